import * as v from "valibot";
import {
  MAX_COMPLETION_TOKENS,
  MAX_CONTENT_PARTS,
  MAX_JSON_DEPTH,
  MAX_LOGIT_BIAS_ENTRIES,
  MAX_SESSION_MESSAGE_BYTES,
  MAX_TOOL_CALLS,
  MAX_TOOLS,
  MAX_TOP_LOGPROBS,
} from "../limits";
import { DecimalIn, IntegerIn, MapOf, nestedDeeperThan } from "./common";

/**
 * The OpenAI chat completion request and answer parts that cross the encrypted session: messages
 * as programs send them (content parts, developer role, names, tool calls and tool results),
 * structured output, tools, logprobs, penalties. Every field here reaches the engine; anything
 * else is refused by the sender before it leaves (see features.ts for who can honour what), and
 * by the provider if it still arrives (strict objects: UNKNOWN_FIELD naming its path, never dropped).
 */

const Text = v.pipe(v.string(), v.maxLength(MAX_SESSION_MESSAGE_BYTES));
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(64), v.regex(/^[A-Za-z0-9_.-]+$/));
const CallId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

/** A JSON Schema or other free JSON object, bounded only by the message size. */
const JsonObject = v.pipe(
  MapOf(v.record(v.string(), v.unknown())),
  v.check(
    (x) => !nestedDeeperThan(x, MAX_JSON_DEPTH),
    `nested more than ${MAX_JSON_DEPTH} levels deep; a schema needs far fewer`,
  ),
);

export const TextPart = v.strictObject({ type: v.literal("text"), text: Text });
export const ImagePart = v.strictObject({
  type: v.literal("image_url"),
  image_url: v.strictObject({ url: Text, detail: v.optional(v.picklist(["auto", "low", "high"])) }),
});
export const ContentPart = v.variant("type", [TextPart, ImagePart]);
const Parts = <T extends v.GenericSchema>(part: T) =>
  v.pipe(v.array(part), v.minLength(1), v.maxLength(MAX_CONTENT_PARTS));

export const ToolCall = v.strictObject({
  id: CallId,
  type: v.literal("function"),
  function: v.strictObject({ name: Name, arguments: Text }),
});

/** System and developer text reach the engine as a string; only user content keeps image parts. */
export const ChatMessage = v.variant("role", [
  v.strictObject({ role: v.literal("system"), content: Text, name: v.optional(Name) }),
  v.strictObject({ role: v.literal("developer"), content: Text, name: v.optional(Name) }),
  v.strictObject({
    role: v.literal("user"),
    content: v.union([Text, Parts(ContentPart)]),
    name: v.optional(Name),
  }),
  v.strictObject({
    role: v.literal("assistant"),
    content: v.nullable(Text),
    name: v.optional(Name),
    tool_calls: v.optional(v.pipe(v.array(ToolCall), v.minLength(1), v.maxLength(MAX_TOOL_CALLS))),
  }),
  v.strictObject({ role: v.literal("tool"), content: Text, tool_call_id: CallId }),
]);

export const ResponseFormat = v.variant("type", [
  v.strictObject({ type: v.literal("text") }),
  v.strictObject({ type: v.literal("json_object") }),
  v.strictObject({
    type: v.literal("json_schema"),
    json_schema: v.strictObject({
      name: Name,
      description: v.optional(Text),
      schema: v.optional(JsonObject),
      strict: v.optional(v.nullable(v.boolean())),
    }),
  }),
]);

export const Tool = v.strictObject({
  type: v.literal("function"),
  function: v.strictObject({
    name: Name,
    description: v.optional(Text),
    parameters: v.optional(JsonObject),
    strict: v.optional(v.nullable(v.boolean())),
  }),
});

export const ToolChoice = v.union([
  v.picklist(["none", "auto", "required"]),
  v.strictObject({ type: v.literal("function"), function: v.strictObject({ name: Name }) }),
]);

const Penalty = DecimalIn(-2, 2);

/** The request fields beyond messages and sampling basics, each carried to the engine. */
export const ChatOptions = {
  response_format: v.optional(ResponseFormat),
  tools: v.optional(v.pipe(v.array(Tool), v.minLength(1), v.maxLength(MAX_TOOLS))),
  tool_choice: v.optional(ToolChoice),
  parallel_tool_calls: v.optional(v.boolean()),
  logprobs: v.optional(v.boolean()),
  top_logprobs: v.optional(IntegerIn(0, MAX_TOP_LOGPROBS)),
  presence_penalty: v.optional(Penalty),
  frequency_penalty: v.optional(Penalty),
  logit_bias: v.optional(
    MapOf(
      v.pipe(
        v.record(v.pipe(v.string(), v.regex(/^[0-9]{1,9}$/)), DecimalIn(-100, 100)),
        v.check((r) => Object.keys(r).length <= MAX_LOGIT_BIAS_ENTRIES, "too many logit_bias entries"),
      ),
    ),
  ),
  user: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /**
   * Silk's teacher forcing, for audits: generate nothing, but stream these tokens back with the
   * logprob the model gives each after the prompt and the tokens before it (feature `scoring`).
   */
  score: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
      v.minLength(1),
      v.maxLength(MAX_COMPLETION_TOKENS),
    ),
  ),
  /**
   * With `score`: the tokens must be scored by teacher forcing (feature `forced_scoring`), each
   * after the given tokens before it, never along the model's own greedy path. Part of the
   * request hash, so the provider's signed answer states the method.
   */
  score_method: v.optional(v.literal("teacher-forcing")),
};

/** A piece of a streamed tool call: the first piece of each call carries its id and name. */
export const ToolCallDelta = v.object({
  index: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_TOOL_CALLS - 1)),
  id: v.optional(CallId),
  type: v.optional(v.literal("function")),
  function: v.optional(v.object({ name: v.optional(Name), arguments: v.optional(Text) })),
});

const TokenLogprob = v.object({
  token: v.pipe(v.string(), v.maxLength(256)),
  logprob: v.number(),
  bytes: v.optional(v.nullable(v.pipe(v.array(v.number()), v.maxLength(256)))),
});

/** One generated token's log probability, with the most likely alternatives when asked for. */
export const LogprobEntry = v.object({
  ...TokenLogprob.entries,
  top_logprobs: v.pipe(v.array(TokenLogprob), v.maxLength(MAX_TOP_LOGPROBS)),
  /**
   * Silk's mark for text the engine held back while a character was split across tokens
   * (WebLLM streams only the last token's logprob then): the entry spells all of that text,
   * `logprob` is its last token's, and the tokens before it were never reported. Audits skip it.
   */
  held: v.optional(v.literal(true)),
});

export type ChatMessage = v.InferOutput<typeof ChatMessage>;
export type ContentPart = v.InferOutput<typeof ContentPart>;
export type ToolCall = v.InferOutput<typeof ToolCall>;
export type ResponseFormat = v.InferOutput<typeof ResponseFormat>;
export type Tool = v.InferOutput<typeof Tool>;
export type ToolChoice = v.InferOutput<typeof ToolChoice>;
export type ToolCallDelta = v.InferOutput<typeof ToolCallDelta>;
export type LogprobEntry = v.InferOutput<typeof LogprobEntry>;

/** A run of generated text (or tool-call pieces) and how many tokens it is: what an engine yields and a requester verifies. */
export interface AnswerPiece {
  readonly text: string;
  readonly tokens: number;
  readonly toolCalls?: readonly ToolCallDelta[];
  /** One entry per token, when the request asked for logprobs. */
  readonly logprobs?: readonly LogprobEntry[];
}

export type AnswerFinish = "stop" | "length" | "abort" | "tool_calls" | "content_filter";
