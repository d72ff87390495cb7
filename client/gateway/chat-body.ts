import * as v from "valibot";
import { MAX_COMPLETION_TOKENS, MAX_MESSAGES_PER_REQUEST } from "../../protocol";
import type { ChatCompletionCreateParams } from "../sdk/openai-shapes";
import { invalidRequest } from "./http-errors";

/**
 * The body of POST /v1/chat/completions, checked field by field: a wrong value is a 400 naming
 * the field (OpenAI's `param`).
 */
const Body = v.object({
  model: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  messages: v.pipe(
    v.array(v.object({ role: v.picklist(["system", "user", "assistant"]), content: v.string() })),
    v.minLength(1),
    v.maxLength(MAX_MESSAGES_PER_REQUEST),
  ),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.object({ include_usage: v.optional(v.boolean()) })),
  max_tokens: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_COMPLETION_TOKENS))),
  max_completion_tokens: v.nullish(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_COMPLETION_TOKENS)),
  ),
  temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  seed: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
  stop: v.nullish(v.union([v.string(), v.pipe(v.array(v.string()), v.maxLength(4))])),
});

export function parseChatBody(json: unknown): { params: ChatCompletionCreateParams; stream: boolean } {
  const parsed = v.safeParse(Body, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const param = issue?.path?.map((p) => String(p.key)).join(".") ?? null;
    throw invalidRequest("invalid_value", `invalid value at ${param ?? "body"}: ${issue?.message}`, param);
  }
  const b = parsed.output;
  return {
    stream: Boolean(b.stream),
    params: {
      model: b.model,
      messages: b.messages,
      max_tokens: b.max_completion_tokens ?? b.max_tokens ?? null,
      temperature: b.temperature ?? null,
      top_p: b.top_p ?? null,
      seed: b.seed ?? null,
      stop: b.stop ?? null,
      stream_options: b.stream_options ?? null,
    },
  };
}
