import { MalformedMessageError, OversizeMessageError } from "../errors";
import { MAX_SESSION_MESSAGE_BYTES } from "../limits";
import { MAX_FRAME_PLAINTEXT } from "./cipher";

/**
 * Inside a frame's plaintext, the first byte says how it relates to the message it carries, so
 * a large prompt is cut into frames well under the data channel's limit and put back together.
 */
export const PIECE_WHOLE = 0;
export const PIECE_MORE = 1;
export const PIECE_LAST = 2;
export const PIECE_AUTH = 3;
export const MAX_PIECE_PAYLOAD = MAX_FRAME_PLAINTEXT - 1;

export function splitMessage(message: Uint8Array, pieceSize = MAX_PIECE_PAYLOAD): Uint8Array[] {
  if (message.length > MAX_SESSION_MESSAGE_BYTES)
    throw new OversizeMessageError(message.length, MAX_SESSION_MESSAGE_BYTES);
  if (message.length <= pieceSize) return [withFlag(PIECE_WHOLE, message)];
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < message.length; off += pieceSize) {
    const end = Math.min(off + pieceSize, message.length);
    pieces.push(withFlag(end === message.length ? PIECE_LAST : PIECE_MORE, message.subarray(off, end)));
  }
  return pieces;
}

export function withFlag(flag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = flag;
  out.set(payload, 1);
  return out;
}

export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly limit = MAX_SESSION_MESSAGE_BYTES) {}

  /** Returns the whole message once its last piece arrives. */
  push(piece: Uint8Array): Uint8Array | undefined {
    if (piece.length === 0) throw new MalformedMessageError("empty piece");
    const flag = piece[0];
    const payload = piece.subarray(1);
    if (flag === PIECE_WHOLE) {
      if (this.parts.length > 0) throw new MalformedMessageError("whole message inside a chunked one");
      return payload;
    }
    if (flag !== PIECE_MORE && flag !== PIECE_LAST)
      throw new MalformedMessageError(`unknown piece flag ${flag}`);
    this.size += payload.length;
    if (this.size > this.limit) throw new OversizeMessageError(this.size, this.limit);
    this.parts.push(payload);
    if (flag === PIECE_MORE) return undefined;
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    this.parts = [];
    this.size = 0;
    return out;
  }
}
