import * as v from "valibot";
import { MAX_MESSAGES_PER_REQUEST } from "../../protocol";
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from "../sdk/openai-shapes";
import { invalidRequest } from "./http-errors";

/**
 * The body of POST /v1/chat/completions. Every OpenAI field is either carried to the provider or
 * refused by name (400 with `param`), never dropped: fields Silk does not carry are refused here,
 * and the values of those it carries are checked by the SDK against the session's own schema
 * (client/sdk/chat-input.ts), so the gateway and the wire cannot disagree on a limit.
 */
export const CARRIED_FIELDS = [
  "model",
  "messages",
  "stream",
  "stream_options",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "seed",
  "stop",
  "response_format",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "logprobs",
  "top_logprobs",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "user",
  "n",
] as const;

/** Fields refused with a reason more useful than "not supported". */
const REFUSED: Readonly<Record<string, string>> = {
  functions: "use `tools` (the deprecated `functions` is not carried)",
  function_call: "use `tool_choice` (the deprecated `function_call` is not carried)",
  audio: "audio output is not served",
  modalities: "only text output is served",
  prediction: "predicted outputs are not supported",
  web_search_options: "web search is not offered by providers",
  reasoning_effort: "reasoning effort is not carried to providers",
  service_tier: "there are no service tiers",
  store: "completions are never stored",
  metadata: "completions are never stored, so metadata has nowhere to go",
};

/** Harmless values of refused fields that ask for nothing (clients send them by default). */
const NO_OP: Readonly<Record<string, unknown>> = { store: false, service_tier: "auto" };

const Body = v.object({
  model: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  messages: v.pipe(
    v.array(v.looseObject({ role: v.string() })),
    v.minLength(1),
    v.maxLength(MAX_MESSAGES_PER_REQUEST),
  ),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.object({ include_usage: v.nullish(v.boolean()) })),
});

export function parseChatBody(json: unknown): { params: ChatCompletionCreateParams; stream: boolean } {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalidRequest("invalid_value", "the body must be a JSON object");
  const body = json as Record<string, unknown>;
  for (const [key, value] of Object.entries(body)) {
    if ((CARRIED_FIELDS as readonly string[]).includes(key) || value === null || NO_OP[key] === value)
      continue;
    const why = REFUSED[key] ?? "Silk does not carry this field, and will not drop it silently";
    throw invalidRequest("unsupported_parameter", `${key}: ${why}`, key);
  }
  const parsed = v.safeParse(Body, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const param = issue?.path?.map((p) => String(p.key)).join(".") ?? null;
    throw invalidRequest("invalid_value", `${param ?? "body"}: ${issue?.message}`, param);
  }
  const carried: Record<string, unknown> = {};
  for (const key of CARRIED_FIELDS) if (body[key] != null) carried[key] = body[key];
  return {
    stream: Boolean(parsed.output.stream),
    params: {
      ...(carried as Omit<ChatCompletionCreateParams, "model" | "messages">),
      model: parsed.output.model,
      messages: parsed.output.messages as unknown as ChatCompletionMessageParam[],
    },
  };
}
