import { ErrorReply } from "redis";
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

/**
 * Redis did not answer a command (no reply within its deadline, or the connection down): the
 * node cannot read or change the shared directory now. Its own class, so the refusal names that
 * cause (`DIRECTORY_UNAVAILABLE`) rather than an unexplained `INTERNAL`.
 */
export class RedisUnavailableError extends Error {
  override readonly name: string = "RedisUnavailableError";
}

/**
 * Redis's replies that say "not now" rather than "no": still loading its data after a restart
 * (LOADING), a replica not yet promoted (READONLY, MASTERDOWN), a script running past its time
 * (BUSY), a cluster mid-failover or mid-resharding (TRYAGAIN, CLUSTERDOWN). A command so answered
 * did not run, as one that got no reply may not have: what is owed is sent again, not given up.
 */
const TRANSIENT_REPLIES = ["LOADING", "READONLY", "BUSY ", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"];

export function isTransientReply(err: unknown): boolean {
  return err instanceof ErrorReply && TRANSIENT_REPLIES.some((code) => err.message.startsWith(code));
}

/**
 * Protocol errors keep their code where signaling has one; Redis away, or answering "not now"
 * (`isTransientReply`: LOADING, BUSY...), is DIRECTORY_UNAVAILABLE, which requesters take to
 * another node; anything else is INTERNAL, unexplained.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof SignalingError) return { code: err.code, message: err.message };
  if (err instanceof RedisUnavailableError || isTransientReply(err))
    return {
      code: "DIRECTORY_UNAVAILABLE",
      message: "this signaling node cannot reach its shared directory (Redis) now; retry shortly",
    };
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
