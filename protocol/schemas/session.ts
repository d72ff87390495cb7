import * as v from "valibot";
import { parseTyped } from "../codec";
import { FeatureSchema } from "../features";
import {
  MAX_COMPLETION_TOKENS,
  MAX_MESSAGES_PER_REQUEST,
  MAX_MODELS_PER_PROVIDER,
  MAX_STOP_SEQUENCE_CHARS,
  MAX_STOP_SEQUENCES,
} from "../limits";
import {
  ChatMessage,
  ChatOptions,
  LogprobEntry,
  type ResponseFormat,
  type Tool,
  ToolCallDelta,
  type ToolChoice,
} from "./chat";
import {
  Count,
  DecimalIn,
  ErrorBody,
  Hex64,
  Id,
  IntegerIn,
  ModelId,
  ModelPriceSchema,
  TonAddressText,
  Version,
} from "./common";
import { EmbeddingMessage, EmbedRequest } from "./embedding";
import { SignedQuote } from "./signaling";

/**
 * Messages inside an established encrypted session (after the handshake). Requests follow the
 * OpenAI chat completions shape (chat.ts); answers stream as text, tool-call pieces and logprobs
 * with token counts; receipts flow back. A request (chat or embed) is a strict object: a field
 * this version does not know is refused by name (UNKNOWN_FIELD), never dropped.
 */
export const ChatRequest = v.strictObject({
  v: Version,
  t: v.literal("request"),
  id: Id,
  model: ModelId,
  messages: v.pipe(v.array(ChatMessage), v.minLength(1), v.maxLength(MAX_MESSAGES_PER_REQUEST)),
  max_tokens: v.optional(IntegerIn(1, MAX_COMPLETION_TOKENS)),
  temperature: v.optional(DecimalIn(0, 2)),
  top_p: v.optional(DecimalIn(0, 1)),
  seed: v.optional(IntegerIn(0, 2 ** 32 - 1)),
  stop: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_STOP_SEQUENCE_CHARS))),
      v.maxLength(MAX_STOP_SEQUENCES),
    ),
  ),
  ...ChatOptions,
});

/**
 * A run of streamed text (and tool-call pieces, and their logprobs when asked for) and how many
 * tokens it is; `total` is the running completion count.
 */
export const TokensMessage = v.object({
  v: Version,
  t: v.literal("tokens"),
  id: Id,
  text: v.pipe(v.string(), v.maxLength(64 * 1024)),
  tool_calls: v.optional(v.pipe(v.array(ToolCallDelta), v.minLength(1), v.maxLength(16))),
  logprobs: v.optional(v.pipe(v.array(LogprobEntry), v.maxLength(MAX_COMPLETION_TOKENS))),
  count: v.pipe(Count, v.maxValue(MAX_COMPLETION_TOKENS)),
  total: v.pipe(Count, v.maxValue(MAX_COMPLETION_TOKENS)),
});

export const FinishReason = v.picklist(["stop", "length", "abort", "tool_calls", "content_filter"]);

export const DoneMessage = v.object({
  v: Version,
  t: v.literal("done"),
  id: Id,
  finish_reason: FinishReason,
  usage: v.object({ prompt_tokens: Count, completion_tokens: Count }),
  /**
   * The provider's identity-key signature over its answer statement (answer-statement.ts), which
   * the requester rebuilds from what it sent and saw.
   */
  signature: v.optional(Hex64),
});

export const CancelMessage = v.object({ v: Version, t: v.literal("cancel"), id: Id });

/**
 * The provider's signed quote the requester was granted (quote.ts), shown with the base receipt.
 * A quote is the provider's word until it expires, and a server may grant with one the provider
 * has since replaced (a raised price): the provider, which signed it, honours it for the session
 * (provider/serving/honoured-quote.ts), so the requester never has to tell a replay from a bait.
 */
export const ShownQuote = v.object({
  model: ModelId,
  price: ModelPriceSchema,
  payout: TonAddressText,
  expiresAt: Count,
  owner: v.optional(TonAddressText),
  signature: Hex64,
});
export type ShownQuote = v.InferOutput<typeof ShownQuote>;

/** A signed cumulative receipt as base64 BOC (see receipt.ts); the base one may show the grant's quote. */
export const ReceiptMessage = v.object({
  v: Version,
  t: v.literal("receipt"),
  receipt: v.pipe(v.string(), v.maxLength(512)),
  quote: v.optional(ShownQuote),
  /**
   * The codes added since the first version that this requester reads (error-codes.ts:
   * NEWER_CODES); a provider sends any other as the older code it stands in for. An older
   * provider strips the field (an open object) and sends the older codes.
   */
  knows: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(40))), v.maxLength(16))),
});

/** The provider is waiting for a receipt before it streams more (credit window exhausted). */
export const CreditWaitMessage = v.object({ v: Version, t: v.literal("credit-wait"), id: Id });

/**
 * The provider is still working on the answer (queued for the engine, or a slow first token): a
 * keepalive, so the requester's deadline for the next frame of an answer does not mistake a busy
 * engine for a stall.
 */
export const ProgressMessage = v.object({ v: Version, t: v.literal("progress"), id: Id });

/**
 * The provider's answer to a requester's base receipt: the receipt it now holds for that escrow
 * (the requester's own if accepted, or a newer one it already had) and its prices, each with the
 * provider's signed quote for that price (quote.ts: its key over its payout, its entry's owner,
 * the model and this price). The session was granted for one model, checked against the grant's
 * quote; another model is used on it only at a price its quote here signs (account-quotes.ts).
 */
export const AccountMessage = v.object({
  v: Version,
  t: v.literal("account"),
  receipt: v.optional(v.pipe(v.string(), v.maxLength(512))),
  accepted: v.boolean(),
  /** Why the account was refused, when it was not for an older base (e.g. an unfunded escrow). */
  refusal: v.optional(ErrorBody),
  prices: v.pipe(
    v.array(
      v.object({
        model: ModelId,
        price: ModelPriceSchema,
        features: v.optional(v.pipe(v.array(FeatureSchema), v.maxLength(8))),
        contextWindow: v.optional(v.pipe(Count, v.minValue(1))),
        quote: v.optional(SignedQuote),
      }),
    ),
    v.maxLength(MAX_MODELS_PER_PROVIDER),
  ),
});

export const SessionErrorMessage = v.object({
  v: Version,
  t: v.literal("error"),
  id: v.optional(Id),
  error: ErrorBody,
});

/**
 * Either side may ask the other to answer at once over the session (`ping`; the answer is a
 * `pong` with the same id). The secure session answers and reads these itself (secure-session.ts);
 * nothing above it sees them. An older peer answers a `ping` with an `error` UNKNOWN_TYPE naming
 * its id, which proves it is there just as well.
 */
export const SessionProbe = v.variant("t", [
  v.object({ v: Version, t: v.literal("ping"), id: Id }),
  v.object({ v: Version, t: v.literal("pong"), id: Id }),
]);
export type SessionProbe = v.InferOutput<typeof SessionProbe>;

export const SessionMessage = v.variant("t", [
  ChatRequest,
  EmbedRequest,
  EmbeddingMessage,
  TokensMessage,
  DoneMessage,
  CancelMessage,
  ReceiptMessage,
  CreditWaitMessage,
  ProgressMessage,
  AccountMessage,
  SessionErrorMessage,
]);

export type ChatRequest = v.InferOutput<typeof ChatRequest>;

/** A chat completion's parameters as both ends use them: the request without its envelope. */
export interface ChatParams {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly max_tokens?: number;
  readonly temperature?: number;
  readonly top_p?: number;
  readonly seed?: number;
  readonly stop?: readonly string[];
  readonly response_format?: ResponseFormat;
  readonly tools?: readonly Tool[];
  readonly tool_choice?: ToolChoice;
  readonly parallel_tool_calls?: boolean;
  readonly logprobs?: boolean;
  readonly top_logprobs?: number;
  readonly presence_penalty?: number;
  readonly frequency_penalty?: number;
  readonly logit_bias?: Readonly<Record<string, number>>;
  readonly user?: string;
  readonly score?: readonly string[];
  readonly score_method?: "teacher-forcing";
}

/** The fields of ChatParams beyond messages, in the order they are copied across a boundary. */
export const CHAT_OPTION_KEYS = [
  "max_tokens",
  "temperature",
  "top_p",
  "seed",
  "stop",
  ...(Object.keys(ChatOptions) as (keyof typeof ChatOptions)[]),
] as const satisfies readonly (keyof ChatParams)[];

/** Copies the set option fields of `from` (undefined and null left out). */
export function chatOptionsOf(from: Partial<Record<keyof ChatParams, unknown>>): Partial<ChatParams> {
  const out: Record<string, unknown> = {};
  for (const k of CHAT_OPTION_KEYS) if (from[k] !== undefined && from[k] !== null) out[k] = from[k];
  return out as Partial<ChatParams>;
}
export type TokensMessage = v.InferOutput<typeof TokensMessage>;
export type DoneMessage = v.InferOutput<typeof DoneMessage>;
export type AccountMessage = v.InferOutput<typeof AccountMessage>;
export type SessionMessage = v.InferOutput<typeof SessionMessage>;
/** What a sender builds: the wire form, with nanoTON as decimal strings. */
export type SessionMessageInput = v.InferInput<typeof SessionMessage>;
export type SessionMessageType = SessionMessage["t"];

/** The types of session message this version knows. */
export const SESSION_TYPES: ReadonlySet<string> = new Set(
  SessionMessage.options.map((o) => o.entries.t.literal),
);

export function parseSessionMessage(input: unknown): SessionMessage {
  return parseTyped(SessionMessage, SESSION_TYPES, input, "session message");
}
