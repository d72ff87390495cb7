/**
 * Every error code a Silk party sends or raises, one typed list per source, so a provider, a
 * requester, the signaling server and the gateway all speak the same words (protocol/README.md
 * says what each means and what an application sees). On the wire a code stays a string, so a
 * newer peer's code is still carried; `knownCode` maps one we do not know to `INTERNAL`.
 */

/** A message, frame, key or receipt is wrong (the classes in errors.ts). */
export const PROTOCOL_ERROR_CODES = [
  "MALFORMED",
  // a request carries a field this version does not know (its path in `param`): refused, never dropped
  "UNKNOWN_FIELD",
  "OVERSIZE",
  "UNKNOWN_TYPE",
  "VERSION",
  "BAD_KEY",
  "BAD_SIGNATURE",
  "HANDSHAKE",
  "IDENTITY_MISMATCH",
  "DECRYPT",
  "REPLAY",
  "COUNTER_OVERFLOW",
  "CHANNEL_CLOSED",
  "TIMEOUT",
  "RECEIPT_BINDING",
  "RECEIPT_CONFLICT",
  "PRICE",
  // a grant whose terms (price, payout) are not the provider's signed quote, or priced above the
  // request's maxPrice: the server lied (quote.ts, session-opener.ts)
  "QUOTE_FORGED",
  // the escrow cannot pay for more (a receipt above its means, or an answer cut at them)
  "ESCROW_CANNOT_PAY",
  // the requester's trust policy (trust-policy.ts): a provider it will not use
  "UNREGISTERED_PROVIDER",
  "REGISTRY_MISMATCH",
  "POLICY_REFUSED",
  "REGISTRY_UNAVAILABLE",
] as const;

/** Signaling acks and `session:ended`: why a session request found nobody, or what was wrong with an event. */
export const SIGNALING_ERROR_CODES = [
  "NO_MODEL",
  "PRICE_TOO_LOW",
  "ALL_BUSY",
  "NO_ANSWER",
  // some serve the model, none declares a feature the request needs (features.ts)
  "UNSUPPORTED",
  "RATE_LIMITED",
  "MALFORMED",
  "OVERSIZE",
  "VERSION",
  "BAD_SIGNATURE",
  "BAD_CHALLENGE",
  // a connection admitted on one provider's resume ticket registering another
  "BAD_TICKET",
  // a registration quote living no longer than the server's QUOTE_MARGIN_MS: it would be swept at once
  "QUOTE_TOO_SHORT",
  "NOT_REGISTERED",
  "NOT_IN_SESSION",
  "SHUTTING_DOWN",
  // the node is too loaded to take a connection now: come back after the `retryAfterMs` it gives
  "OVERLOADED",
  // an audit report whose evidence does not check out (audit-report.ts), or from a banned reporter
  "REPORT_REFUSED",
  // the node cannot reach its shared directory (Redis) now: retry shortly, or through another node
  "DIRECTORY_UNAVAILABLE",
  "INTERNAL",
] as const;

/** A provider's `account` refusal of a base receipt, after reading the requester's escrow. */
export const ACCOUNT_REFUSAL_CODES = [
  "ESCROW_NETWORK",
  "ESCROW_CODE",
  "ESCROW_CLOSE_DELAY",
  "ESCROW_CLOSING",
  "KEY_NOT_AUTHORISED",
  "KEY_EPOCH",
  // the escrow itself cannot pay a claim: a top-up is the fix, and every provider would say so
  "OUT_OF_FUNDS",
  // the escrow could pay, but this provider holds that back: it is owed as much on its other
  // streams of the escrow, or it serves beyond the escrow's reserve for it only so much
  // (`--unreserved-nano`). Another provider may serve; a reserve for this one would. A newer code:
  // sent only to a requester that declares it (OLDER_CODE), else as OUT_OF_FUNDS
  "ESCROW_HELD_BACK",
  "ESCROW_UNREACHABLE",
  // an earlier session on this stream streamed tokens no receipt covers: sign for them, or wait
  "UNPAID_TOKENS",
  // someone (the requester) claimed this provider's receipts on the escrow in small amounts, each
  // at the provider's fee: it no longer serves the escrow
  "FOREIGN_CLAIMS",
  // the escrow's paid dictionary is so crowded along this provider's stream that a claim would
  // not fit the external gas credit, and the provider has no wallet to claim from
  "ESCROW_CROWDED",
] as const;

/** A provider's session `error` about one request: always carries the request's id. */
export const REQUEST_ERROR_CODES = [
  "NO_ACCOUNT",
  "NO_MODEL",
  "DUPLICATE_ID",
  "QUEUE_FULL",
  "UNSUPPORTED",
  "ENGINE",
  /** The prompt does not fit the model's context window (the engine or its backend said so). */
  "CONTEXT_LENGTH_EXCEEDED",
  // the signed quote this session's price for the model rests on has expired: the provider's word
  // on that price is over, so it starts nothing more at it; a fresh session gets its current quote.
  // A newer code: sent as PRICE to a requester that does not declare it (OLDER_CODE)
  "QUOTE_EXPIRED",
] as const;

/**
 * A provider's session `error` about the session itself (no id): a receipt it will not take, a
 * message a requester never sends, a wait that ran out. The requester fails every request of
 * the session with it and closes the session.
 */
export const SESSION_ERROR_CODES = [
  "RECEIPT_KEY",
  "RECEIPT_STREAM",
  "RECEIPT_AHEAD",
  "RECEIPT_UNDERPAID",
  "RECEIPT_STALE",
  "UNEXPECTED",
  "CREDIT_TIMEOUT",
  // another session opened on this session's stream (same key, same provider): this one ends
  "SESSION_REPLACED",
  "INTERNAL",
] as const;

/** What the requester's SDK itself concludes about a provider or a session. */
export const REQUESTER_ERROR_CODES = [
  "OVER_REPORT",
  // text (or a tool call's bytes) the provider counted no token for: every token an engine makes
  // carries its text, so a piece of it is at least one token; a count of 0 bills nothing and kept
  // the answer alive as a "working" would
  "UNDER_REPORT",
  "PROVIDER_LOST",
  "STALLED",
  "TAMPERED",
  "ACCOUNT",
  "UNREACHABLE",
  // the provider's signed answer statement does not verify or is for another answer
  "BAD_STATEMENT",
  // the request itself is wrong (a field out of range, n above 1): refused before it leaves
  "INVALID_REQUEST",
  // a peer sent a code this version does not know: a newer peer, or a hostile one (wireError)
  "UNKNOWN_CODE",
  // a grant the signaling server's pinned key did not sign (server-grant.ts): written or altered on
  // the path to the server (a man in the middle), so the server is not blamed
  "GRANT_TAMPERED",
  // the signaling server answered with what the SDK cannot read (an ack that is no object, a grant
  // or directory off its schema): a broken or lying server, never the request's fault
  "SERVER_MALFORMED",
  /** A reserve raise refused as expired, dated by this machine's clock: the chain's could not be read. */
  "CLOCK_UNCHECKED",
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number];
export type AccountRefusalCode = (typeof ACCOUNT_REFUSAL_CODES)[number];
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];
export type RequesterErrorCode = (typeof REQUESTER_ERROR_CODES)[number];

/** Anything a provider may put in a session `error` or an account refusal. */
export type ProviderErrorCode = ProtocolErrorCode | AccountRefusalCode | RequestErrorCode | SessionErrorCode;

/** Every code an application can meet. */
export type ErrorCode = ProviderErrorCode | SignalingErrorCode | RequesterErrorCode;

export const ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ...PROTOCOL_ERROR_CODES,
  ...SIGNALING_ERROR_CODES,
  ...ACCOUNT_REFUSAL_CODES,
  ...REQUEST_ERROR_CODES,
  ...SESSION_ERROR_CODES,
  ...REQUESTER_ERROR_CODES,
]);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && ERROR_CODES.has(code as ErrorCode);
}

/** A code from the wire as one we know; a newer (or hostile) peer's unknown code reads as UNKNOWN_CODE. */
export function knownCode(code: string): ErrorCode {
  return isErrorCode(code) ? code : "UNKNOWN_CODE";
}

/**
 * A peer's error (a provider's session `error` or refusal, a signaling ack) as we pass it on. A
 * known code keeps the peer's message. An unknown one reads as UNKNOWN_CODE with our own message,
 * naming the code only when it looks like one: a peer that makes up codes may also make up text
 * ("your key was revoked, log in at …"), and nothing it says then reaches an application or a log.
 */
export function wireError(
  body: { readonly code: string; readonly message: string },
  from: string,
): { code: ErrorCode; message: string } {
  if (isErrorCode(body.code)) return { code: body.code, message: body.message };
  const named = /^[A-Z][A-Z0-9_]{0,39}$/.test(body.code) ? ` (${body.code})` : "";
  return {
    code: "UNKNOWN_CODE",
    message: `the ${from} sent an error code this version does not know${named}`,
  };
}

/**
 * Codes added to `v: 1` after its first peers, each with the older code a peer that does not
 * declare it is sent instead: a requester lists what it reads in its base receipt's `knows`
 * (`NEWER_CODES`), and a provider sends one of these only to a requester that listed it
 * (`codeFor`). An older SDK reads the older code (its own fixed sentence for it), as it always
 * did; an older provider ignores `knows` and sends the older code.
 */
export const OLDER_CODE = {
  ESCROW_HELD_BACK: "OUT_OF_FUNDS",
  QUOTE_EXPIRED: "PRICE",
} as const satisfies Partial<Record<ErrorCode, ErrorCode>>;

export type NewerCode = keyof typeof OLDER_CODE;

/** What a requester of this version reads beyond the first codes: its base receipt's `knows`. */
export const NEWER_CODES: readonly NewerCode[] = Object.keys(OLDER_CODE) as NewerCode[];

/** Whether a peer whose base receipt declared `knows` reads the newer `code`. */
export function reads(code: NewerCode, knows: readonly string[] | undefined): boolean {
  return knows?.includes(code) ?? false;
}

/** `code` as sent to a peer that declared it reads `knows`, else the older code it stands in for. */
export function codeFor<C extends ErrorCode>(
  code: C,
  knows: readonly string[] | undefined,
): C | (typeof OLDER_CODE)[NewerCode] {
  if (!Object.hasOwn(OLDER_CODE, code)) return code;
  const newer = code as unknown as NewerCode;
  return reads(newer, knows) ? code : OLDER_CODE[newer];
}

export function isAccountRefusal(code: string): code is AccountRefusalCode {
  return (ACCOUNT_REFUSAL_CODES as readonly string[]).includes(code);
}
