import { engineFailureSaid, PROVIDER_INTERNAL } from "./engine-failures";
import {
  ACCOUNT_REFUSAL_CODES,
  PROTOCOL_ERROR_CODES,
  type ProviderErrorCode,
  REQUEST_ERROR_CODES,
  SESSION_ERROR_CODES,
} from "./error-codes";
import { FEATURES } from "./features";
import { STREAM_FULL_MESSAGE } from "./receipt";
import { EmbedRequest } from "./schemas/embedding";
import { ChatRequest } from "./schemas/session";

/**
 * What a requester says for each code a provider may send in a session `error` or an account
 * refusal: a fixed sentence per code, in our words. A provider is an untrusted peer; its own text
 * ("your key was revoked: log in at …") never reaches an application or a log. A sentence may
 * carry a field we parsed from the provider's text and checked ourselves (a feature of FEATURES, a
 * number, a request field this version has); anything that does not parse is simply left out.
 */
/**
 * ESCROW_HELD_BACK's two causes, as the provider says them (provider/account-gate.ts
 * `heldBackRefusal`) and as a requester repeats them: the provider's own words, fixed here.
 */
export const HELD_BACK_FOR_RESERVE =
  "this provider serves beyond the escrow's reserve for it only a set amount (its --unreserved-nano), and that does not cover this session: raise a reserve for this provider (the SDK raises them when given the escrow's chain), or another provider may serve";
export const HELD_BACK_FOR_OTHERS =
  "the escrow could pay, but what it can pay is owed already to this provider on its other streams of the escrow (other session keys or key epochs), not yet claimed: another provider may serve, or top the escrow up";

const SAID: Record<ProviderErrorCode, string> = {
  // protocol/errors.ts: something the provider found wrong with what we sent, or its own state
  MALFORMED: "the provider could not read a message of this session",
  UNKNOWN_FIELD: "the provider does not know a field of the request",
  OVERSIZE: "the provider refused a message of this session as too large",
  UNKNOWN_TYPE: "the provider does not know a message type of this session",
  VERSION: "the provider speaks another protocol version",
  BAD_KEY: "the provider refused a key of this session",
  BAD_SIGNATURE: "the provider found a signature of this session invalid",
  HANDSHAKE: "the provider failed the session's handshake",
  IDENTITY_MISMATCH: "the provider reported an identity mismatch",
  DECRYPT: "the provider could not decrypt a frame of this session",
  REPLAY: "the provider saw a frame of this session out of order",
  COUNTER_OVERFLOW: "the session's frame counter ran out",
  CHANNEL_CLOSED: "the provider's channel closed",
  TIMEOUT: "the provider timed out waiting on this session",
  RECEIPT_BINDING: "the provider refused a receipt bound to another session",
  RECEIPT_CONFLICT: "the provider holds a conflicting receipt for this stream",
  PRICE: "the provider refused the price",
  QUOTE_FORGED: "the provider found the grant's terms are not its quote",
  ESCROW_CANNOT_PAY: "the escrow cannot pay for more tokens; top it up",
  UNREGISTERED_PROVIDER: "the provider reported an unregistered provider",
  REGISTRY_MISMATCH: "the provider reported a registry mismatch",
  POLICY_REFUSED: "the provider refused by policy",
  REGISTRY_UNAVAILABLE: "the provider could not read the registry",
  // account refusals (provider/account-gate.ts): what it read on the chain
  ESCROW_NETWORK: "the escrow is on another network",
  ESCROW_CODE: escrowCodeSaid(),
  ESCROW_CLOSE_DELAY: "the escrow's close delay is shorter than this provider needs to claim",
  ESCROW_CLOSING: "the escrow is closing; top it up and reopen it",
  KEY_NOT_AUTHORISED: "the session key is not authorised in the escrow",
  KEY_EPOCH: "receipts carry another key epoch than the escrow's",
  OUT_OF_FUNDS: "the escrow cannot cover more answers; top it up",
  ESCROW_HELD_BACK: HELD_BACK_FOR_OTHERS,
  ESCROW_UNREACHABLE: "the provider could not read the escrow",
  UNPAID_TOKENS:
    "an earlier session streamed tokens past your last receipt on this stream: open with a receipt that covers them, or come back later",
  FOREIGN_CLAIMS:
    "this provider's receipts on the escrow were claimed by someone else in small amounts, each at its fee; it no longer serves this escrow",
  ESCROW_CROWDED: "the escrow pays so many other streams that this provider could not claim what it is owed",
  // a request's errors (provider/serving/session-server.ts, failure.ts)
  NO_ACCOUNT: "the provider has no account open for this session",
  NO_MODEL: "the provider does not serve this model",
  DUPLICATE_ID: "the provider already has a request with this id",
  QUEUE_FULL: "the provider's queue is full",
  UNSUPPORTED: "the provider does not support something this request needs",
  ENGINE: "the provider's engine failed",
  CONTEXT_LENGTH_EXCEEDED: "the prompt does not fit the model's context window",
  QUOTE_EXPIRED:
    "the provider's signed quote for this session's price has expired, so it starts nothing more at that price: a fresh session gets its current quote",
  // the session's errors
  RECEIPT_KEY: "the provider refused a receipt not signed by this session's key",
  RECEIPT_STREAM: "the provider refused a receipt for another stream",
  RECEIPT_AHEAD: "the provider refused a receipt covering tokens never streamed",
  RECEIPT_UNDERPAID: "the provider refused a receipt below its price",
  RECEIPT_STALE:
    "the provider refused a receipt not newer than the one it holds, or than what the escrow already paid its stream",
  UNEXPECTED: "the provider got a message it does not expect",
  CREDIT_TIMEOUT: "the provider waited too long for a receipt",
  SESSION_REPLACED: "another session with this provider opened on the same session key; this one ends",
  INTERNAL: PROVIDER_INTERNAL,
};

const PROVIDER_CODES: ReadonlySet<string> = new Set<string>([
  ...PROTOCOL_ERROR_CODES,
  ...ACCOUNT_REFUSAL_CODES,
  ...REQUEST_ERROR_CODES,
  ...SESSION_ERROR_CODES,
]);

export function isProviderCode(code: string): code is ProviderErrorCode {
  return PROVIDER_CODES.has(code);
}

/** The fixed sentence for a provider's code, with nothing of its text. */
export function providerSentence(code: ProviderErrorCode): string {
  return SAID[code];
}

/**
 * ESCROW_CODE's sentence, naming the provider when the requester knows which one it is (the
 * opener does: which provider runs another version is the point).
 */
export function escrowCodeSaid(provider?: string): string {
  return `the provider${provider ? ` ${provider}` : ""} does not recognise the escrow's code as Silk's Escrow (it may run another version of Silk)`;
}

/** The top-level fields of a request this version sends (chat and embeddings). */
const REQUEST_FIELDS: ReadonlySet<string> = new Set([
  ...Object.keys(ChatRequest.entries),
  ...Object.keys(EmbedRequest.entries),
]);

const SEGMENT = /^(?:[0-9]{1,6}|[a-z][a-z0-9_]{0,39})$/;

/**
 * A `param` a provider named, if it is a path into the request it answers (`tools`,
 * `messages.3.content`, `response_format.json_schema`): at most eight short snake_case names or
 * indexes that lead to a value of `sent`, the request as we sent it. Without the request (an error
 * about the session, an account refusal), a known top-level field of the requests this version
 * sends, except for UNKNOWN_FIELD, whose field can only be checked against what was sent.
 * Anything else is dropped.
 */
export function requestParam(
  param: string | undefined,
  sent?: unknown,
  unknownField = false,
): string | undefined {
  if (param === undefined || param.length > 80) return undefined;
  const segments = param.split(".");
  if (segments.length > 8 || !segments.every((s) => SEGMENT.test(s))) return undefined;
  if (sent !== undefined) return leadsTo(sent, segments) ? param : undefined;
  return !unknownField && REQUEST_FIELDS.has(segments[0] ?? "") ? param : undefined;
}

/** Whether `segments` name a value inside `value` (own keys of objects, indexes of arrays). */
function leadsTo(value: unknown, segments: readonly string[]): boolean {
  let at = value;
  for (const s of segments) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, s)) return false;
    at = (at as Record<string, unknown>)[s];
  }
  return at !== undefined;
}

const FEATURE_SET: ReadonlySet<string> = new Set(FEATURES);
const int = (s: string | undefined) => (s && /^[0-9]{1,12}$/.test(s) ? s : undefined);

/**
 * A provider's error as a requester passes it on: `code` must be one a provider sends (else the
 * caller reads it as UNKNOWN_CODE), `message` is ours for that code, `param` only a path into
 * `sent`, the request the error answers, when there is one (requestParam). The provider's own
 * message is read only for the fields we check here.
 */
export function providerSaid(
  code: ProviderErrorCode,
  message: string,
  param?: string,
  sent?: unknown,
): { message: string; param: string | undefined } {
  const text = message.slice(0, 400);
  const field =
    requestParam(param, sent, code === "UNKNOWN_FIELD") ??
    (code === "UNSUPPORTED" ? requestParam(/^([a-z_.0-9]+):/.exec(text)?.[1], sent) : undefined);
  return { message: sentence(code, text, field), param: field };
}

function sentence(code: ProviderErrorCode, text: string, field: string | undefined): string {
  switch (code) {
    case "ENGINE":
      return engineFailureSaid(text);
    case "UNSUPPORTED": {
      const feature =
        /does not support ([a-z_]+)$/.exec(text)?.[1] ??
        (/does not make embeddings$/.test(text) ? "embeddings" : undefined);
      if (feature && FEATURE_SET.has(feature)) return `the provider does not support ${feature}`;
      // no feature we know, but a field of our request we checked: named, so the reason stays useful
      return field ? `${SAID.UNSUPPORTED} (${field})` : SAID.UNSUPPORTED;
    }
    case "UNKNOWN_FIELD":
      // the field, checked against the request as sent (requestParam)
      return field ? `${SAID.UNKNOWN_FIELD} (${field})` : SAID.UNKNOWN_FIELD;
    case "KEY_EPOCH": {
      const epoch = int(/epoch ([0-9]+)$/.exec(text)?.[1]);
      return epoch ? `receipts must carry the key's epoch ${epoch}` : SAID.KEY_EPOCH;
    }
    case "ESCROW_CLOSE_DELAY": {
      const m = /close delay is ([0-9]+) s; this provider needs at least ([0-9]+) s/.exec(text);
      const [has, needs] = [int(m?.[1]), int(m?.[2])];
      return has && needs
        ? `the escrow's close delay is ${has} s; this provider needs at least ${needs} s to claim`
        : SAID.ESCROW_CLOSE_DELAY;
    }
    case "UNPAID_TOKENS": {
      const tokens = int(/streamed ([0-9]+) tokens/.exec(text)?.[1]);
      return tokens
        ? `an earlier session streamed ${tokens} tokens past your last receipt on this stream: open with a receipt that covers them, or come back later`
        : SAID.UNPAID_TOKENS;
    }
    case "ESCROW_CANNOT_PAY":
      return escrowLimitSaid(text);
    case "ESCROW_HELD_BACK":
      return text.startsWith(HELD_BACK_FOR_RESERVE.slice(0, 60))
        ? HELD_BACK_FOR_RESERVE
        : HELD_BACK_FOR_OTHERS;
    default:
      return SAID[code];
  }
}

/**
 * ESCROW_CANNOT_PAY has three causes, each fixed differently, told by which of the provider's
 * sentences it sent (provider/serving/request-serving.ts, escrow-limit.ts): the stream's totals
 * reached what a receipt can count (a new session key starts a new stream: no top-up helps), the
 * reserve for this provider is used up (raise it), or the escrow's balance (top it up). Only the
 * start of its text picks one; nothing of it is repeated. The code on the wire is the same for
 * all three, so the cause is read here once and callers branch on it, never on our sentence.
 */
export type EscrowLimit = "stream" | "reserve" | "balance";

/** How the provider's "reserve used up" sentence starts: what tells that cause from the others. */
const RESERVE_USED_UP = "the escrow's reserve for this provider is used up";
/** The provider's sentence when the reserve for it is used up (provider/serving/escrow-limit.ts). */
export const RESERVE_USED_UP_MESSAGE = `${RESERVE_USED_UP} (beyond it only one credit window is served): raise the reserve, or top the escrow up`;

export function escrowLimitOf(text: string): EscrowLimit {
  if (text.startsWith("a receipt counts at most ")) return "stream";
  if (text.startsWith(RESERVE_USED_UP)) return "reserve";
  return "balance";
}

const ESCROW_LIMIT_SAID: Readonly<Record<EscrowLimit, string>> = {
  stream: STREAM_FULL_MESSAGE,
  reserve: RESERVE_USED_UP_MESSAGE,
  balance: SAID.ESCROW_CANNOT_PAY,
};

function escrowLimitSaid(text: string): string {
  return ESCROW_LIMIT_SAID[escrowLimitOf(text)];
}
