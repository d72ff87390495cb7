import { SilkError } from "../../protocol";

/**
 * Errors the SDK raises to its callers. `code` follows the signaling and session error codes
 * (NO_MODEL, ALL_BUSY, PRICE_TOO_LOW, QUEUE_FULL, …) so apps can say what to do.
 */
export class ProviderError extends Error {
  readonly code: string;
  /** The request field the error is about (`tools`, `response_format`, …), when there is one. */
  readonly param: string | undefined;
  constructor(code: string, message: string, param?: string) {
    super(message);
    this.name = "ProviderError";
    this.code = code;
    this.param = param;
  }
}

/** The provider claimed more tokens than the text it sent could hold: nothing more is signed. */
export class OverReportError extends ProviderError {
  constructor(message: string) {
    super("OVER_REPORT", message);
    this.name = "OverReportError";
  }
}

/** The provider went away mid-answer; `partial` is what had arrived. */
export class ProviderLostError extends ProviderError {
  readonly partial: string;
  /** Completion tokens of `partial`, and the nanoTON they cost. */
  readonly tokens: number;
  readonly cost: bigint;
  constructor(partial: string, tokens: number, cost: bigint, cause?: unknown, message?: string) {
    super("PROVIDER_LOST", message ?? "the provider disconnected before the answer was complete");
    this.name = "ProviderLostError";
    this.partial = partial;
    this.tokens = tokens;
    this.cost = cost;
    if (cause instanceof SilkError) this.cause = cause;
  }
}

/** Nothing on the network can serve this request: no provider, price too low, all busy. */
export class NoProviderError extends ProviderError {
  constructor(code: string, message: string, param?: string) {
    super(code, message, param);
    this.name = "NoProviderError";
  }
}
