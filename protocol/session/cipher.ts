import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { CounterOverflowError, DecryptError, MalformedMessageError, ReplayError } from "../errors";
import { MAX_FRAME_BYTES } from "../limits";

/**
 * Encrypted frames: `kind(1) | counter(8, big-endian) | ChaCha20-Poly1305(ciphertext | tag 16)`.
 * The header is the AEAD's associated data; the nonce is 4 zero bytes and the counter. Each
 * direction has its own key, so a nonce never repeats under one key; the receiver accepts only
 * the next counter, so replayed, reordered and dropped frames are all caught.
 */
export const FRAME_DATA = 0x10;
export const FRAME_HEADER_BYTES = 9;
export const TAG_BYTES = 16;
export const MAX_FRAME_PLAINTEXT = MAX_FRAME_BYTES - FRAME_HEADER_BYTES - TAG_BYTES;
/** The last counter we use: beyond it, a new session (JavaScript numbers stay exact up to here). */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

function nonceFor(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

export class SendCipher {
  private counter: number;
  constructor(
    private readonly key: Uint8Array,
    startAt = 0,
  ) {
    this.counter = startAt;
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > MAX_FRAME_PLAINTEXT) throw new MalformedMessageError("frame plaintext too large");
    if (this.counter > MAX_COUNTER) throw new CounterOverflowError();
    const frame = new Uint8Array(FRAME_HEADER_BYTES + plaintext.length + TAG_BYTES);
    const header = frame.subarray(0, FRAME_HEADER_BYTES);
    header[0] = FRAME_DATA;
    new DataView(frame.buffer).setBigUint64(1, BigInt(this.counter));
    const sealed = chacha20poly1305(this.key, nonceFor(this.counter), header).encrypt(plaintext);
    frame.set(sealed, FRAME_HEADER_BYTES);
    this.counter++;
    return frame;
  }
}

export class ReceiveCipher {
  private expected: number;
  constructor(
    private readonly key: Uint8Array,
    startAt = 0,
  ) {
    this.expected = startAt;
  }

  open(frame: Uint8Array): Uint8Array {
    if (frame.length > MAX_FRAME_BYTES) throw new DecryptError("frame larger than the limit");
    if (frame.length < FRAME_HEADER_BYTES + TAG_BYTES) throw new DecryptError("truncated frame");
    if (frame[0] !== FRAME_DATA) throw new DecryptError("not a data frame");
    const counter = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(1);
    if (this.expected > MAX_COUNTER) throw new CounterOverflowError();
    if (counter !== BigInt(this.expected)) throw new ReplayError(counter, BigInt(this.expected));
    let plaintext: Uint8Array;
    try {
      plaintext = chacha20poly1305(
        this.key,
        nonceFor(this.expected),
        frame.subarray(0, FRAME_HEADER_BYTES),
      ).decrypt(frame.subarray(FRAME_HEADER_BYTES));
    } catch {
      throw new DecryptError();
    }
    this.expected++;
    return plaintext;
  }
}
