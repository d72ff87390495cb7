import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, equalBytes, fromUtf8, lengthPrefixed, utf8 } from "../encoding";
import {
  HandshakeError,
  IdentityMismatchError,
  InvalidSignatureError,
  SilkError,
  VersionMismatchError,
} from "../errors";
import { type KeyPair, sign, verify } from "../identity";
import { MAX_HANDSHAKE_BYTES } from "../limits";
import { PIECE_AUTH, withFlag } from "./chunks";
import { ReceiveCipher, SendCipher } from "./cipher";
import { SecureSession } from "./secure-session";
import type { FrameTransport } from "./transport";

/**
 * The Silk handshake, three messages, requester first (see protocol/README.md for the argument):
 *   HELLO  requester → provider: version, session id, requester ephemeral X25519 key
 *   REPLY  provider → requester: provider ephemeral key, identity key, Ed25519 proof over the transcript
 *   AUTH   requester → provider, the first encrypted frame: session key and its proof over the transcript
 * The transcript hash binds the session id, both DTLS fingerprints and all keys.
 */
export const HANDSHAKE_VERSION = 1;
export const FRAME_HELLO = 0x01;
export const FRAME_REPLY = 0x02;
const LABEL_TRANSCRIPT = utf8("silk/v1 handshake");
const LABEL_PROVIDER = utf8("silk/v1 provider-proof");
const LABEL_REQUESTER = utf8("silk/v1 requester-proof");
const LABEL_KEYS = utf8("silk/v1 keys");
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface HandshakeParams {
  readonly sessionId: string;
  /** Canonical fingerprints (fingerprintFromSdp), or RELAY_FINGERPRINT for relayed sessions. */
  readonly requesterFingerprint: string;
  readonly providerFingerprint: string;
  readonly timeoutMs?: number;
  /**
   * This side's ephemeral X25519 secret. Only for fixed test vectors (as libp2p-noise allows):
   * a real session must leave it out and get a fresh random one.
   */
  readonly ephemeralSecret?: Uint8Array;
}

export interface RequesterParams extends HandshakeParams {
  /** The identity key the requester was told to expect (directory, Registry). */
  readonly providerIdentity: Uint8Array;
  readonly sessionKey: KeyPair;
}

export interface ProviderParams extends HandshakeParams {
  readonly identity: KeyPair;
  /** When the signaling server announced the requester's session key, the one it must prove. */
  readonly expectedSessionKey?: Uint8Array;
}

export function transcriptHash(
  p: HandshakeParams,
  requesterEphemeral: Uint8Array,
  providerEphemeral: Uint8Array,
  providerIdentity: Uint8Array,
): Uint8Array {
  return sha256(
    lengthPrefixed(
      LABEL_TRANSCRIPT,
      new Uint8Array([HANDSHAKE_VERSION]),
      utf8(p.sessionId),
      utf8(p.requesterFingerprint),
      utf8(p.providerFingerprint),
      requesterEphemeral,
      providerEphemeral,
      providerIdentity,
    ),
  );
}

function deriveKeys(shared: Uint8Array, transcript: Uint8Array) {
  if (shared.every((b) => b === 0)) throw new HandshakeError("ephemeral key of low order");
  const okm = hkdf(sha256, shared, transcript, LABEL_KEYS, 64);
  return { requesterToProvider: okm.slice(0, 32), providerToRequester: okm.slice(32, 64) };
}

function encodeHello(sessionId: string, ephemeral: Uint8Array): Uint8Array {
  const id = utf8(sessionId);
  if (id.length > 255) throw new HandshakeError("session id too long");
  return concatBytes(new Uint8Array([FRAME_HELLO, HANDSHAKE_VERSION, id.length]), id, ephemeral);
}

function decodeHello(frame: Uint8Array): { sessionId: string; ephemeral: Uint8Array } {
  if (frame.length > MAX_HANDSHAKE_BYTES || frame.length < 3 + 32)
    throw new HandshakeError("malformed hello");
  if (frame[0] !== FRAME_HELLO) throw new HandshakeError("expected hello");
  if (frame[1] !== HANDSHAKE_VERSION) throw new VersionMismatchError(frame[1], HANDSHAKE_VERSION);
  const idLength = frame[2]!;
  if (frame.length !== 3 + idLength + 32) throw new HandshakeError("malformed hello");
  return { sessionId: fromUtf8(frame.subarray(3, 3 + idLength)), ephemeral: frame.slice(3 + idLength) };
}

const REPLY_BYTES = 2 + 32 + 32 + 64;

function decodeReply(frame: Uint8Array) {
  if (frame.length !== REPLY_BYTES || frame[0] !== FRAME_REPLY) throw new HandshakeError("malformed reply");
  if (frame[1] !== HANDSHAKE_VERSION) throw new VersionMismatchError(frame[1], HANDSHAKE_VERSION);
  return { ephemeral: frame.slice(2, 34), identity: frame.slice(34, 66), proof: frame.slice(66, 130) };
}

/** Any failure closes the transport, so a half-made session never lingers. */
async function guarded<T>(transport: FrameTransport, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const error = err instanceof SilkError ? err : new HandshakeError("handshake failed", { cause: err });
    transport.close(error);
    throw error;
  }
}

/** The requester's side: returns a session once the provider has proven the expected identity. */
export function initiateSession(transport: FrameTransport, p: RequesterParams): Promise<SecureSession> {
  return guarded(transport, async () => {
    const inbox = transport.inbox;
    const timeout = p.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const ephemeral = p.ephemeralSecret ?? x25519.utils.randomSecretKey();
    const ephemeralPublic = x25519.getPublicKey(ephemeral);
    await transport.send(encodeHello(p.sessionId, ephemeralPublic));

    const reply = decodeReply(await inbox.next(timeout, "handshake reply"));
    if (!equalBytes(reply.identity, p.providerIdentity)) throw new IdentityMismatchError();
    const transcript = transcriptHash(p, ephemeralPublic, reply.ephemeral, reply.identity);
    if (!verify(reply.identity, lengthPrefixed(LABEL_PROVIDER, transcript), reply.proof)) {
      throw new InvalidSignatureError(
        "provider handshake proof (wrong key, or keys or fingerprints swapped in flight)",
      );
    }
    const keys = deriveKeys(x25519.getSharedSecret(ephemeral, reply.ephemeral), transcript);
    const send = new SendCipher(keys.requesterToProvider);
    const auth = concatBytes(
      p.sessionKey.publicKey,
      sign(p.sessionKey.secretKey, lengthPrefixed(LABEL_REQUESTER, transcript)),
    );
    await transport.send(send.seal(withFlag(PIECE_AUTH, auth)));
    return new SecureSession(transport, send, new ReceiveCipher(keys.providerToRequester), {
      sessionId: p.sessionId,
      peerKey: reply.identity,
    });
  });
}

/** The provider's side: returns a session once the requester has proven its session key. */
export function acceptSession(transport: FrameTransport, p: ProviderParams): Promise<SecureSession> {
  return guarded(transport, async () => {
    const inbox = transport.inbox;
    const timeout = p.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const hello = decodeHello(await inbox.next(timeout, "handshake hello"));
    if (hello.sessionId !== p.sessionId) throw new HandshakeError("hello is for another session");
    const ephemeral = p.ephemeralSecret ?? x25519.utils.randomSecretKey();
    const ephemeralPublic = x25519.getPublicKey(ephemeral);
    const transcript = transcriptHash(p, hello.ephemeral, ephemeralPublic, p.identity.publicKey);
    const keys = deriveKeys(x25519.getSharedSecret(ephemeral, hello.ephemeral), transcript);
    const proof = sign(p.identity.secretKey, lengthPrefixed(LABEL_PROVIDER, transcript));
    await transport.send(
      concatBytes(
        new Uint8Array([FRAME_REPLY, HANDSHAKE_VERSION]),
        ephemeralPublic,
        p.identity.publicKey,
        proof,
      ),
    );

    const receive = new ReceiveCipher(keys.requesterToProvider);
    const auth = receive.open(await inbox.next(timeout, "handshake auth"));
    if (auth.length !== 1 + 32 + 64 || auth[0] !== PIECE_AUTH) throw new HandshakeError("malformed auth");
    const sessionKey = auth.slice(1, 33);
    if (!verify(sessionKey, lengthPrefixed(LABEL_REQUESTER, transcript), auth.slice(33))) {
      throw new InvalidSignatureError("requester handshake proof");
    }
    if (p.expectedSessionKey && !equalBytes(sessionKey, p.expectedSessionKey)) {
      throw new HandshakeError("requester proved a different session key from the one announced");
    }
    return new SecureSession(transport, new SendCipher(keys.providerToRequester), receive, {
      sessionId: p.sessionId,
      peerKey: sessionKey,
    });
  });
}
