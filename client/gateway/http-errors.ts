import { SignalingError } from "../../peer/signaling-client";
import { ProviderError } from "../sdk/errors";

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
  ) {
    super(message);
    this.name = "HttpError";
  }

  body(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (code: string, message: string, param: string | null = null) =>
  new HttpError(400, "invalid_request_error", code, message, param);

/** The HTTP status of each refusal the SDK reports (signaling, account and session codes). */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  NO_MODEL: 404,
  UNSUPPORTED: 400,
  PRICE_TOO_LOW: 402,
  OUT_OF_FUNDS: 402,
  KEY_NOT_AUTHORISED: 403,
  KEY_EPOCH: 403,
  ESCROW_CLOSING: 403,
  ESCROW_NETWORK: 403,
  ALL_BUSY: 503,
  QUEUE_FULL: 503,
  NO_ANSWER: 503,
  ESCROW_UNREACHABLE: 503,
  SHUTTING_DOWN: 503,
  RATE_LIMITED: 429,
  PROVIDER_LOST: 502,
  OVER_REPORT: 502,
};

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "insufficient_funds",
  403: "permission_error",
  404: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
  503: "service_unavailable",
};

export function statusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 502;
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  // The server's refusals (RATE_LIMITED, …) keep their code: a 429 is not the gateway's fault.
  if (err instanceof ProviderError || err instanceof SignalingError) {
    const status = statusOf(err.code);
    const code = err.code === "NO_MODEL" ? "model_not_found" : err.code.toLowerCase();
    const param = err instanceof ProviderError ? (err.param ?? null) : null;
    return new HttpError(status, TYPE_BY_STATUS[status] ?? "api_error", code, err.message, param);
  }
  return new HttpError(500, "api_error", "internal_error", "the gateway failed; see its log");
}
