import type { SignalingErrorCode } from "../protocol";
import { SilkError } from "../protocol";

/**
 * A refusal the server sends back in an ack; callers branch on `code`. It carries no stack: a
 * refusal is an answer, not a fault, and capturing one cost a refusal 7-18 µs a grant never paid.
 */
export class SignalingError extends Error {
  constructor(
    readonly code: SignalingErrorCode,
    message: string,
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = "SignalingError";
  }
}

export interface WireError {
  code: SignalingErrorCode;
  message: string;
}

/** Protocol errors keep their code where signaling has one; anything else is INTERNAL, unexplained. */
export function toWireError(err: unknown): WireError {
  if (err instanceof SignalingError) return { code: err.code, message: err.message };
  if (err instanceof SilkError) {
    switch (err.code) {
      case "OVERSIZE":
      case "VERSION":
      case "MALFORMED":
      case "BAD_SIGNATURE":
        return { code: err.code, message: err.message };
      case "BAD_KEY":
        return { code: "BAD_SIGNATURE", message: err.message };
      default:
        return { code: "MALFORMED", message: err.message };
    }
  }
  return { code: "INTERNAL", message: "internal error" };
}
