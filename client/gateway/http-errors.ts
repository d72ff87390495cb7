import { RelayRefusedError, SignalingError } from "../../peer/signaling-client";
import { type ErrorCode, isErrorCode, SilkError } from "../../protocol";
import { InvalidRequestError, NoProviderError, ProviderError, ProviderLostError } from "../sdk/errors";

/**
 * Errors as OpenAI sends them: an HTTP status and `{ error: { message, type, param, code } }`.
 * Before the first byte of an answer they go out as the response itself (streaming or not);
 * after it, as an `error` event in the stream.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    /**
     * Silk's whole account (which server said what, its unchecked words quoted), apart from
     * `message`, which is OpenAI's fixed sentence (model_not_found) or Silk's own: `silk_detail`.
     */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }

  body(): {
    error: { message: string; type: string; param: string | null; code: string; silk_detail?: string };
  } {
    const error = { message: this.message, type: this.type, param: this.param, code: this.code };
    return { error: this.detail === undefined ? error : { ...error, silk_detail: this.detail } };
  }
}

/**
 * A model nobody serves, in OpenAI's own words (a program matching on them keeps working); what
 * Silk found out (the signaling server's words, its URL) goes in `silk_detail`.
 */
export const modelNotFound = (model: string, detail?: string) =>
  new HttpError(
    404,
    "invalid_request_error",
    "model_not_found",
    `The model \`${model}\` does not exist or you do not have access to it.`,
    "model",
    detail,
  );

/** `err` as an HttpError, a model nobody serves said as OpenAI says it for `model`. */
export function forModel(model: string, err: unknown): HttpError {
  const http = toHttpError(err);
  return http.code === "model_not_found" ? modelNotFound(model, http.detail ?? http.message) : http;
}

export const invalidRequest = (code: string, message: string, param: string | null = null) =>
  new HttpError(400, "invalid_request_error", code, message, param);

/**
 * The HTTP status of every code the SDK can report (protocol/error-codes.ts), checked complete by
 * the compiler: the request's own fault is 4xx, a provider or the network failing is 5xx, a
 * deadline that ran out is 504.
 */
const STATUS_BY_CODE = {
  // the request or its escrow
  MALFORMED: 400,
  // a field the provider does not know (a newer SDK's, or a third party's): `param` names it
  UNKNOWN_FIELD: 400,
  OVERSIZE: 400,
  UNKNOWN_TYPE: 400,
  VERSION: 400,
  INVALID_REQUEST: 400,
  UNSUPPORTED: 400,
  CONTEXT_LENGTH_EXCEEDED: 400,
  PRICE_TOO_LOW: 402,
  OUT_OF_FUNDS: 402,
  // the provider holds back what the escrow could pay (its other streams, its reserve rule): a
  // reserve for it, or a top-up, pays; another provider was asked first
  ESCROW_HELD_BACK: 402,
  ESCROW_CANNOT_PAY: 402,
  UNPAID_TOKENS: 402,
  KEY_NOT_AUTHORISED: 403,
  KEY_EPOCH: 403,
  ESCROW_CLOSING: 403,
  ESCROW_NETWORK: 403,
  ESCROW_CODE: 403,
  ESCROW_CLOSE_DELAY: 403,
  // the requester claimed a provider's receipts itself, in small amounts, at the provider's fee
  FOREIGN_CLAIMS: 403,
  // the escrow's claims dictionary is crowded along that provider's stream (another may serve)
  ESCROW_CROWDED: 403,
  // the requester's own trust policy refused every provider on offer
  POLICY_REFUSED: 403,
  UNREGISTERED_PROVIDER: 403,
  REGISTRY_MISMATCH: 403,
  NO_MODEL: 404,
  RATE_LIMITED: 429,
  // nobody can take it now
  ALL_BUSY: 503,
  QUEUE_FULL: 503,
  // the session's quote ran out and the SDK's fresh session met it again (a provider's clock ahead)
  QUOTE_EXPIRED: 503,
  NO_ANSWER: 503,
  ESCROW_UNREACHABLE: 503,
  SHUTTING_DOWN: 503,
  OVERLOADED: 503,
  DIRECTORY_UNAVAILABLE: 503,
  UNREACHABLE: 503,
  REGISTRY_UNAVAILABLE: 503,
  // a reserve raise dated by this machine's clock, the chain's unreadable: retry once it answers
  CLOCK_UNCHECKED: 503,
  // a deadline ran out
  TIMEOUT: 504,
  STALLED: 504,
  CREDIT_TIMEOUT: 504,
  // the provider, the path or the server failed
  PROVIDER_LOST: 502,
  // a peer's code this version does not know: the peer failed, whatever it meant (wireError)
  UNKNOWN_CODE: 502,
  OVER_REPORT: 502,
  UNDER_REPORT: 502,
  TAMPERED: 502,
  BAD_STATEMENT: 502,
  REPORT_REFUSED: 400,
  IDENTITY_MISMATCH: 502,
  BAD_SIGNATURE: 502,
  HANDSHAKE: 502,
  DECRYPT: 502,
  REPLAY: 502,
  COUNTER_OVERFLOW: 502,
  CHANNEL_CLOSED: 502,
  BAD_KEY: 502,
  RECEIPT_BINDING: 502,
  QUOTE_FORGED: 502,
  GRANT_TAMPERED: 502,
  SERVER_MALFORMED: 502,
  RECEIPT_CONFLICT: 502,
  RECEIPT_KEY: 502,
  RECEIPT_STREAM: 502,
  RECEIPT_AHEAD: 502,
  RECEIPT_UNDERPAID: 502,
  RECEIPT_STALE: 502,
  // the same session key opened another session with this provider (two tabs, two programs)
  SESSION_REPLACED: 409,
  PRICE: 502,
  NO_ACCOUNT: 502,
  DUPLICATE_ID: 502,
  ENGINE: 502,
  UNEXPECTED: 502,
  ACCOUNT: 502,
  BAD_CHALLENGE: 502,
  BAD_TICKET: 502,
  QUOTE_TOO_SHORT: 502,
  NOT_REGISTERED: 502,
  NOT_IN_SESSION: 502,
  INTERNAL: 502,
} as const satisfies Record<ErrorCode, number>;

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "invalid_request_error", // OpenAI's type for a wrong or missing key (code invalid_api_key)
  402: "insufficient_funds",
  403: "permission_error",
  404: "invalid_request_error",
  409: "conflict_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
  503: "service_unavailable",
  504: "timeout",
};

/** OpenAI's own code where it has one for the same refusal. */
const CODE_NAMES: Partial<Record<ErrorCode, string>> = {
  NO_MODEL: "model_not_found",
  INVALID_REQUEST: "invalid_value",
  UNKNOWN_FIELD: "unknown_parameter",
  UNSUPPORTED: "unsupported_value",
  CONTEXT_LENGTH_EXCEEDED: "context_length_exceeded",
  // the provider's engine failed (out of memory, its GPU lost, …): the message names the class
  ENGINE: "engine_failed",
};

/** The request field a code is about when the error itself does not name one. */
const PARAMS: Partial<Record<ErrorCode, string>> = {
  CONTEXT_LENGTH_EXCEEDED: "messages",
  // as GET /v1/models/{id}'s: the field a program fixes (OpenAI's chat route leaves it null)
  NO_MODEL: "model",
};

export function statusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  // Every server asked would not relay the request's sessions (relayRefusedEnd), nothing of the
  // answer came: nobody could carry it now, worth retrying (503, Retry-After), not a party's
  // failure as CHANNEL_CLOSED's 502 says. It ended NO_ANSWER (503) before relay refusals were typed.
  // So is one cut by such a refusal after part of the answer came (a ProviderLostError the refusal
  // caused): it was 502 provider_lost, blaming the provider the SDK does not blame. Its message says
  // the answer was cut and by whom; a stream's `error` event after the partial content is this one.
  if (
    err instanceof RelayRefusedError ||
    (err instanceof ProviderLostError && err.cause instanceof RelayRefusedError)
  )
    return new HttpError(503, "service_unavailable", "relay_refused", err.message);
  // The SDK's errors, protocol errors that reach it unwrapped (a trust policy's refusal), and the
  // server's refusals (RATE_LIMITED, …): each keeps its code, a 429 is not the gateway's fault.
  if (err instanceof ProviderError || err instanceof SilkError || err instanceof SignalingError) {
    // Typed, but a plain-JS caller could still build one with any string: total at run time too.
    if (!isErrorCode(err.code))
      return toHttpError(
        new ProviderError("UNKNOWN_CODE", "a party failed with an error code the gateway does not know"),
      );
    const status = statusOf(err.code);
    const code =
      err instanceof InvalidRequestError ? err.openaiCode : (CODE_NAMES[err.code] ?? err.code.toLowerCase());
    const param = (err instanceof ProviderError ? err.param : undefined) ?? PARAMS[err.code] ?? null;
    // A signaling server's refusal: Silk's own sentence (which server, which code), and the whole
    // account with that server's unchecked text apart in `silk_detail`, as model_not_found keeps it.
    const own = err instanceof NoProviderError ? err.ownWords : undefined;
    return new HttpError(
      status,
      TYPE_BY_STATUS[status] ?? "api_error",
      code,
      own ?? err.message,
      param,
      own === undefined ? undefined : err.message,
    );
  }
  // The caller went away (nginx's 499): nobody reads this answer, but the log says what happened.
  if (err instanceof Error && err.name === "AbortError")
    return new HttpError(499, "api_error", "client_closed_request", "the client closed the request");
  return new HttpError(500, "api_error", "internal_error", "the gateway failed; see its log");
}
