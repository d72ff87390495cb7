import type { ProtocolErrorCode } from "./error-codes";
import type { PolicyRefusal } from "./trust-policy";

/**
 * Every way a message, frame, key or receipt can be wrong has its own class, so callers branch on
 * `instanceof` or `code`, never on message text. Messages never contain keys or payloads.
 */
/** And INTERNAL: a fault of this party's own (a listener of a session's messages threw), that session ended. */
export type SilkErrorCode = ProtocolErrorCode | "INTERNAL";

export class SilkError extends Error {
  readonly code: SilkErrorCode;
  constructor(code: SilkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Not parseable, or parseable but not matching the schema. */
export class MalformedMessageError extends SilkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MALFORMED", message, options);
  }
}

/**
 * A request carries a field this version does not know, at `param` (`temperature_2`,
 * `messages.0.audio`): a newer sender's field, or a third party's. Refused by name, never dropped.
 */
export class UnknownFieldError extends SilkError {
  readonly param: string;
  constructor(what: string, path: string) {
    // A key may be any string: the wire's `param` is word characters only, at most 80 of them.
    const param = path.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 80);
    super("UNKNOWN_FIELD", `${what}: unknown field ${param}: this version does not carry it`);
    this.param = param;
  }
}

export class OversizeMessageError extends SilkError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super("OVERSIZE", `message of ${size} bytes exceeds the limit of ${limit}`);
    this.size = size;
    this.limit = limit;
  }
}

export class UnknownMessageTypeError extends SilkError {
  constructor(type: string) {
    super("UNKNOWN_TYPE", `unknown message type ${JSON.stringify(type.slice(0, 40))}`);
  }
}

export class VersionMismatchError extends SilkError {
  constructor(got: unknown, expected: number) {
    super("VERSION", `protocol version ${String(got).slice(0, 12)} is not supported (expected ${expected})`);
  }
}

export class InvalidKeyError extends SilkError {
  constructor(message: string) {
    super("BAD_KEY", message);
  }
}

export class InvalidSignatureError extends SilkError {
  constructor(what: string) {
    super("BAD_SIGNATURE", `invalid signature on ${what}`);
  }
}

/** The handshake could not complete: wrong message, wrong order, or a man in the middle. */
export class HandshakeError extends SilkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("HANDSHAKE", message, options);
  }
}

/** The peer proved a different identity key from the one the requester asked for. */
export class IdentityMismatchError extends SilkError {
  constructor() {
    super("IDENTITY_MISMATCH", "provider identity key does not match the expected key");
  }
}

/** A frame failed authentication: tampered, truncated, or encrypted under another key. */
export class DecryptError extends SilkError {
  constructor(message = "frame failed authentication") {
    super("DECRYPT", message);
  }
}

/** A frame arrived with a counter other than the next one expected: replayed, reordered or dropped. */
export class ReplayError extends SilkError {
  constructor(got: bigint, expected: bigint) {
    super("REPLAY", `frame counter ${got} where ${expected} was expected`);
  }
}

/**
 * The other side refused a frame from here (altered, dropped or replayed on its way to it) and
 * said so before it closed: the path between, not either party, is suspect.
 */
export class PeerRefusedFrameError extends SilkError {
  constructor(code: "DECRYPT" | "REPLAY") {
    super(code, "the other side saw a frame altered, dropped or replayed on its way to it");
  }
}

export class CounterOverflowError extends SilkError {
  constructor() {
    super("COUNTER_OVERFLOW", "frame counter exhausted; start a new session");
  }
}

export class ChannelClosedError extends SilkError {
  constructor(message = "channel closed", options?: { cause?: unknown }) {
    super("CHANNEL_CLOSED", message, options);
  }
}

export class TimeoutError extends SilkError {
  /** What was awaited ("handshake reply", "next frame of an answer", …) and the deadline it missed. */
  readonly what: string;
  readonly ms: number;
  constructor(what: string, ms: number) {
    super("TIMEOUT", `${what} timed out after ${ms} ms`);
    this.what = what;
    this.ms = ms;
  }
}

export class ReceiptBindingError extends SilkError {
  constructor(field: string) {
    super("RECEIPT_BINDING", `receipt is bound to a different ${field}`);
  }
}

export class ReceiptConflictError extends SilkError {
  constructor(message: string) {
    super("RECEIPT_CONFLICT", message);
  }
}

export class PriceError extends SilkError {
  constructor(message: string) {
    super("PRICE", message);
  }
}

/**
 * The requester refused a provider the signaling server named, before any signal or prompt went
 * to it: the Registry does not vouch for it, or the requester's policy does not accept it.
 * Catch this class for all four; `identityKey` is the provider's public key (hex), never a secret.
 */
export class UntrustedProviderError extends SilkError {
  readonly identityKey: string;
  constructor(
    code: "UNREGISTERED_PROVIDER" | "REGISTRY_MISMATCH" | "POLICY_REFUSED" | "REGISTRY_UNAVAILABLE",
    identityKey: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.identityKey = identityKey;
  }
}

/** No Registry entry publishes this provider (none named, never registered, or removed). */
export class UnregisteredProviderError extends UntrustedProviderError {
  constructor(identityKey: string, message = "the provider is not registered in the Registry") {
    super("UNREGISTERED_PROVIDER", identityKey, message);
  }
}

/** The provider's Registry entry names another identity key or payout than the server did. */
export class RegistryMismatchError extends UntrustedProviderError {
  readonly field: "identity key" | "payout";
  constructor(identityKey: string, field: "identity key" | "payout") {
    super("REGISTRY_MISMATCH", identityKey, `the Registry entry names another ${field} than the server did`);
    this.field = field;
  }
}

/** Registered as named, but outside the requester's policy (block-list, allow-list, stake, age). */
export class PolicyRefusedError extends UntrustedProviderError {
  readonly reason: PolicyRefusal;
  constructor(identityKey: string, reason: PolicyRefusal, message: string) {
    super("POLICY_REFUSED", identityKey, message);
    this.reason = reason;
  }
}

/** The Registry could not be read, so the provider could not be checked (and is not trusted). */
export class RegistryUnavailableError extends UntrustedProviderError {
  constructor(identityKey: string, cause: unknown) {
    super("REGISTRY_UNAVAILABLE", identityKey, "the TON Registry could not be read to check the provider", {
      cause,
    });
  }
}

/** Wire form of an error, for sending back to a peer. Never carries a stack or a payload. */
export function errorToWire(err: unknown): {
  code: SilkErrorCode | "INTERNAL";
  message: string;
  param?: string;
} {
  if (err instanceof UnknownFieldError) return { code: err.code, message: err.message, param: err.param };
  if (err instanceof SilkError) return { code: err.code, message: err.message };
  return { code: "INTERNAL", message: "internal error" };
}

/**
 * The escrow cannot pay for more: a receipt above what it can still pay (its balance less what it
 * owes this provider), or an answer that would be owed past that. The provider serves no more on
 * it until it is topped up; what was already receipted within its means is kept and claimed.
 */
export class EscrowCannotPayError extends SilkError {
  constructor(message = "the escrow cannot pay for more tokens; top it up") {
    super("ESCROW_CANNOT_PAY", message);
  }
}
