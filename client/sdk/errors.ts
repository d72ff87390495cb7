import {
  type ErrorCode,
  escrowLimitOf,
  isProviderCode,
  type OutOfRangeCode,
  OversizeMessageError,
  providerSaid,
  SESSION_TYPES,
  type SilkError,
  STREAM_FULL_MESSAGE,
  type TimeoutError,
  wireError,
} from "../../protocol";

/**
 * Errors the SDK raises to its callers. `code` is one of protocol/error-codes.ts (NO_MODEL,
 * ALL_BUSY, PRICE_TOO_LOW, QUEUE_FULL, OUT_OF_FUNDS, …) so apps can say what to do; `cause`
 * keeps the protocol error underneath, when there is one.
 */
export class ProviderError extends Error {
  readonly code: ErrorCode;
  /** The request field the error is about (`tools`, `response_format`, …), when there is one. */
  readonly param: string | undefined;
  constructor(code: ErrorCode, message: string, param?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderError";
    this.code = code;
    this.param = param;
  }
}

/**
 * A provider's error from the wire, in the SDK's words only (protocol/provider-said.ts): a provider
 * is an untrusted peer, and its text ("your key was revoked: log in at …") would reach an
 * application as if it were ours. A code a provider sends reads as that code's fixed sentence
 * (with a feature, a number or a request field we parsed and checked); a code nobody defined, or
 * one no provider sends (ALL_BUSY, GRANT_TAMPERED, …), is UNKNOWN_CODE (wireError).
 */
export function providerError(
  body: { code: string; message: string },
  param?: string,
  sent?: unknown,
): ProviderError {
  if (!isProviderCode(body.code)) {
    const e = wireError(body, "provider");
    const message =
      e.code === "UNKNOWN_CODE" ? e.message : `the provider sent an error code no provider sends (${e.code})`;
    return new ProviderError("UNKNOWN_CODE", message);
  }
  if (body.code === "ESCROW_CANNOT_PAY" && escrowLimitOf(body.message) === "stream")
    return new StreamFullError();
  const said = providerSaid(body.code, body.message, param, sent);
  return new ProviderError(body.code, said.message, said.param);
}

/**
 * ESCROW_CANNOT_PAY for a stream whose totals no receipt can carry more of: a new session key
 * (its stream starts at zero) is the fix, never a reserve or a top-up.
 */
export class StreamFullError extends ProviderError {
  constructor() {
    super("ESCROW_CANNOT_PAY", STREAM_FULL_MESSAGE);
    this.name = "StreamFullError";
  }
}

/**
 * A provider's ESCROW_CANNOT_PAY told to a session that raises no reserve of its own: the
 * provider's words, and what would have raised one. The SDK never takes the chain from the
 * server (its `/api/config` is that server's unchecked word), so a program raises reserves only
 * when it names the chain itself. Any other error as is.
 */
export function withoutReserve(err: ProviderError): ProviderError {
  // A stream no receipt can carry more on is not a reserve's doing: a new session key is the fix.
  if (err.code !== "ESCROW_CANNOT_PAY" || err instanceof StreamFullError) return err;
  return new ProviderError(
    err.code,
    `${err.message}. This session raises no reserve of its own: an SDK program raises them when given its escrow's chain, connect({ ton: new TonClient({ endpoint }) }) (the SDK never takes the chain from the server); the gateway does unless --reserve-ahead off`,
    err.param,
    { cause: err },
  );
}

/**
 * A reserve raise (reserve-keeper.ts) was refused by the escrow for want of free balance
 * (`refused`: a top-up is the fix), failed to send for any other reason (`not-sent`: another
 * refusal, its exit code in the message, or the network would not take the message), or was not
 * seen on chain before its deadline (`not-seen`), or was refused as expired while the chain's
 * clock could not be checked, so this machine's dated it (`clock`). Its code: `OUT_OF_FUNDS` when
 * `refused` (a gateway's 402, which a client does not retry), `CLOCK_UNCHECKED` when `clock`,
 * else `TIMEOUT`. Here, beside the other errors,
 * so a page can tell it without loading the keeper.
 */
const REASON_CODES = {
  refused: "OUT_OF_FUNDS",
  "not-sent": "TIMEOUT",
  "not-seen": "TIMEOUT",
  clock: "CLOCK_UNCHECKED",
} as const;

export class ReserveNotSeenError extends ProviderError {
  constructor(
    readonly reason: "refused" | "not-sent" | "not-seen" | "clock",
    /** The cumulative reserve asked for, nanoTON. */
    readonly target: bigint,
    message: string,
    cause?: unknown,
  ) {
    super(REASON_CODES[reason], message, undefined, {
      ...(cause !== undefined && { cause }),
    });
    this.name = "ReserveNotSeenError";
  }
}

/**
 * The provider sent a message of this session that this version cannot read (a field of the wrong
 * type or size, an error without its code): what it meant is unknown, so what waited on it ends
 * now, not at its deadline. A provider's fault (502 at the gateway), in our words: the message
 * names its type and the path that failed when both are plain names, never a value; `cause` is
 * the schema's own error.
 */
export class UnreadableMessageError extends ProviderError {
  constructor(t: string | undefined, cause: SilkError) {
    const path = /invalid at ([a-z0-9_.]{1,80}):/.exec(cause.message)?.[1];
    const what = [
      // a type is named only when it is one of ours (a message of another version may carry any)
      ...(t && SESSION_TYPES.has(t) ? [`type ${t}`] : []),
      ...(path ? [`invalid at ${path}`] : []),
    ].join(", ");
    super(
      "UNEXPECTED",
      `the provider sent a message this version cannot read${what ? ` (${what})` : ""}`,
      undefined,
      { cause },
    );
    this.name = "UnreadableMessageError";
  }
}

/** The provider claimed more tokens than the text it sent could hold: nothing more is signed. */
export class OverReportError extends ProviderError {
  constructor(message: string) {
    super("OVER_REPORT", message);
    this.name = "OverReportError";
  }
}

/**
 * The provider streamed text (or a tool call's name or arguments) it counted no token for: a
 * token carries its text, so every honest piece counts at least one (openai-chunks.ts). Such
 * pieces bill nothing and, believed, kept an answer going until `deadlines.progress` (5 minutes).
 */
export class UnderReportError extends ProviderError {
  constructor(message: string) {
    super("UNDER_REPORT", message);
    this.name = "UnderReportError";
  }
}

/** The provider went away mid-answer; `partial` is what had arrived. */
export class ProviderLostError extends ProviderError {
  readonly partial: string;
  /** Completion tokens of `partial`, and the nanoTON they cost. */
  readonly tokens: number;
  readonly cost: bigint;
  /** A tool call had started: another provider cannot continue half a call, so none is tried. */
  readonly midToolCall: boolean;
  constructor(
    partial: string,
    tokens: number,
    cost: bigint,
    cause?: unknown,
    message?: string,
    code: "PROVIDER_LOST" | "STALLED" | "TAMPERED" = "PROVIDER_LOST",
    midToolCall = false,
  ) {
    super(code, message ?? "the provider disconnected before the answer was complete", undefined, {
      ...(cause instanceof Error && { cause }),
    });
    this.name = "ProviderLostError";
    this.partial = partial;
    this.tokens = tokens;
    this.cost = cost;
    this.midToolCall = midToolCall;
  }
}

/**
 * Nothing of an answer arrived for longer than its deadline (the provider stopped sending, or the
 * relay stalled). The session is closed; nothing was signed for tokens that did not arrive. Not
 * failed over: who stalled cannot be told from here, so no provider is blamed.
 */
export class StalledError extends ProviderLostError {
  constructor(partial: string, tokens: number, cost: bigint, cause: TimeoutError) {
    super(partial, tokens, cost, cause, `no part of the answer arrived for ${cause.ms} ms`, "STALLED");
    this.name = "StalledError";
  }
}

/**
 * A frame of the session failed authentication or came out of order: someone between the parties
 * altered, dropped or replayed it. The session is closed; `cause` is the DecryptError or
 * ReplayError. Not failed over, and no provider is blamed: the path, not the provider, may be at
 * fault, and the message names who carried the frames (`carrier`: a relaying signaling server).
 */
export class TamperedError extends ProviderLostError {
  constructor(partial: string, tokens: number, cost: bigint, cause: SilkError, carrier?: string) {
    const by = carrier
      ? ` (its frames were ${carrier}: it, or the path to it, altered, dropped or replayed one; the provider is not blamed)`
      : "";
    super(
      partial,
      tokens,
      cost,
      cause,
      `the session was tampered with in flight and was closed${by}`,
      "TAMPERED",
    );
    this.name = "TamperedError";
  }
}

/**
 * The provider the signaling server named could not prove who it is: another identity key
 * (IDENTITY_MISMATCH), a proof that does not verify (BAD_SIGNATURE: keys or fingerprints swapped
 * in flight), or a broken handshake. An attack or a lying server, not an offline provider.
 */
export class HandshakeFailedError extends ProviderError {
  /** The identity key the server said the provider has. */
  readonly provider: string;
  /** The signaling server that named it, when known. */
  readonly server: string | undefined;
  /** Handshakes that failed before this one within the same request, each on another server. */
  readonly earlier: readonly HandshakeFailure[];
  constructor(
    provider: string,
    cause: SilkError,
    on: { readonly server?: string; readonly earlier?: readonly HandshakeFailure[] } = {},
  ) {
    const where = on.server ? ` (named by the signaling server at ${on.server})` : "";
    const before = (on.earlier ?? [])
      .map(
        (f) =>
          `on the signaling server at ${f.server}, provider ${f.provider} failed it with ${f.cause.code}: ${f.cause.message}`,
      )
      .join("; ");
    super(
      cause.code,
      `the provider failed the handshake${where}: ${cause.message}${before ? `. Before that, ${before}` : ""}`,
      undefined,
      { cause },
    );
    this.name = "HandshakeFailedError";
    this.provider = provider;
    this.server = on.server;
    this.earlier = [...(on.earlier ?? [])];
  }
}

/** One failed handshake: where, with whom, and why. */
export interface HandshakeFailure {
  readonly server: string;
  readonly provider: string;
  readonly cause: SilkError;
}

/**
 * OpenAI's code for a request it refuses: a wrong value, a field of the wrong JSON type (a string
 * for a number), a field not carried (Silk's own refusal of a field it will not drop) or left out,
 * a string or a list too long, a number out of its field's range (`integer_below_min_value`, `decimal_above_max_value`, …).
 */
export type RefusalCode =
  | "invalid_value"
  | "invalid_type"
  | "unsupported_parameter"
  | "missing_required_parameter"
  | "string_above_max_length"
  | "array_above_max_length"
  | "empty_string"
  | "empty_array"
  | OutOfRangeCode;

/**
 * The request itself is wrong (a field out of range, `n` above 1): `param` names the field,
 * `openaiCode` says what is wrong with it as OpenAI's code does (the gateway's `code`).
 */
export class InvalidRequestError extends ProviderError {
  constructor(
    message: string,
    param: string,
    readonly openaiCode: RefusalCode = "invalid_value",
  ) {
    super("INVALID_REQUEST", message, param);
    this.name = "InvalidRequestError";
  }
}

/** Nothing on the network can serve this request: no provider, price too low, all busy. */
export class NoProviderError extends ProviderError {
  /**
   * The message in the SDK's own words only, when `message` quotes a signaling server's unchecked
   * text (its refusal's, "its word, unchecked: …"): the gateway says this, and keeps the whole
   * account apart in `silk_detail`, so a server's text never passes for Silk's message.
   */
  readonly ownWords: string | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    param?: string,
    options?: { cause?: unknown; ownWords?: string },
  ) {
    super(code, message, param, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NoProviderError";
    this.ownWords = options?.ownWords === message ? undefined : options?.ownWords;
  }
}

/**
 * A request too large to send as one session message, said as the caller's to fix and naming the
 * field that carries its bulk (`param`); the message limit and the gateway's body limit are both
 * 4 MiB, so a body the gateway took can still be over once framed. Any other send failure as is.
 */
export function unsent(err: Error, param: string): Error {
  if (!(err instanceof OversizeMessageError)) return err;
  return new ProviderError(
    "OVERSIZE",
    `the request is ${err.size} bytes as a session message, over the limit of ${err.limit} bytes: shorten ${param}`,
    param,
    { cause: err },
  );
}

/** The `PaymentAccount` calls the SDK makes: the stream's last receipt, saving one, keeping a signed answer. */
export type AccountOperation = "last" | "save" | "keepAnswer";

/**
 * The app's payment account (`PaymentAccount`) failed `operation`: it threw or rejected (`FAILED`,
 * the store's error as `cause`), or did not settle within `deadlines.account` (`TIMEOUT`, told for
 * `keepAnswer`, which the answer does not wait on). A failed `last` or `save` ends the request
 * with it (every provider would meet the same store, so none is blamed or tried); a failed
 * `keepAnswer` is told to `ConnectOptions.onAccountError`, the answer delivered all the same.
 */
export class AccountStoreError extends Error {
  override readonly name = "AccountStoreError";
  constructor(
    readonly code: "FAILED" | "TIMEOUT",
    readonly operation: AccountOperation,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
