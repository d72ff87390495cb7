import type * as webllm from "@mlc-ai/web-llm";
import { contentText } from "../../protocol/features";
import type { ChatMessage } from "../../protocol/schemas/chat";
import { chatOptionsOf } from "../../protocol/schemas/session";
import { EngineError, type EngineRequest } from "./engine";

/**
 * A Silk request in the form WebLLM's `MLCEngine.chat.completions.create` takes (its
 * `postInitAndCheckFields` rules), so a request WebLLM would throw on is refused here by name:
 * - one system message, first: system and developer messages are merged into it;
 * - with `tools` (Hermes models only) WebLLM writes its own system prompt and response format:
 *   system text goes in front of the first user message, and `response_format` is refused;
 * - one text part per message: text parts are joined; image parts keep no `detail`;
 * - `response_format` json_schema becomes `{ type: "json_object", schema: <schema as a string> }`;
 * - WebLLM's Hermes format always answers with calls: `tool_choice` "auto" and "required" both
 *   mean that; "none" sends no tools; a named function and `parallel_tool_calls: false` are
 *   refused, since neither can be enforced;
 * - `user` is not passed: WebLLM has no use for an end-user id; nor is `score_method` (Silk's);
 * - `logprobs` without `top_logprobs` asks for one top token: WebLLM records logprobs only when
 *   `top_logprobs` is above 0 (its `getTokenLogprob`); runWebLlm trims them back to what was asked;
 * - greedy with `logprobs` is sent as temperature 1 with `top_p` at WebLLM's minimum (1e-5): WebLLM
 *   reads logprobs from the softmax it samples with, at `max(1e-6, temperature)`, so at
 *   temperature 0 every chosen token says 0 and every other -Infinity, which tells an audit
 *   nothing. At temperature 1 the softmax is the model's own; a `top_p` of 1e-5 keeps only the
 *   most likely token, so the tokens are the greedy ones still (`sampleFromRawLogits`).
 */
/** WebLLM's smallest `top_p` (`Math.max(top_p, 1e-5)` in its sampler): only the top token is kept. */
export const WEBLLM_MIN_TOP_P = 1e-5;

export function webLlmRequest(r: EngineRequest): webllm.ChatCompletionRequestStreaming {
  const {
    user: _user,
    score_method: _method,
    parallel_tool_calls,
    response_format,
    tool_choice,
    ...options
  } = chatOptionsOf(r);
  if (tool_choice === "none") delete options.tools;
  const tools = Boolean(options.tools);
  if (tools && typeof tool_choice === "object")
    throw new EngineError("unsupported", "tool_choice: WebLLM cannot force one named function");
  if (tools && response_format && response_format.type !== "text")
    throw new EngineError("unsupported", "response_format: WebLLM cannot combine it with tools");
  if (tools && parallel_tool_calls === false)
    throw new EngineError("unsupported", "parallel_tool_calls: WebLLM cannot limit an answer to one call");
  const system = r.messages
    .filter((m) => m.role === "system" || m.role === "developer")
    .map((m) => contentText(m.content))
    .join("\n\n");
  let rest = r.messages.filter((m) => m.role !== "system" && m.role !== "developer");
  if (system && tools) {
    const at = rest.findIndex((m) => m.role === "user");
    if (at < 0) throw new EngineError("unsupported", "messages: a request with tools needs a user message");
    const first = rest[at] as Extract<ChatMessage, { role: "user" }>;
    const content: typeof first.content =
      typeof first.content === "string"
        ? `${system}\n\n${first.content}`
        : [{ type: "text", text: system }, ...first.content];
    rest = rest.with(at, { ...first, content });
  }
  const messages: WebLlmMessage[] = rest.map((m) =>
    toWebLlm(m as Exclude<ChatMessage, { role: "system" | "developer" }>),
  );
  const { stop, tools: toolList, logit_bias, ...plain } = options;
  return {
    ...plain,
    ...(stop && { stop: [...stop] }),
    ...(toolList && { tools: toolList.map((t) => ({ ...t, function: { ...t.function } })) }),
    ...(logit_bias && { logit_bias: { ...logit_bias } }),
    ...(options.stop && { stop: [...options.stop] }),
    ...(options.tools && { tools: options.tools.map((t) => ({ ...t })) }),
    ...(options.logit_bias && { logit_bias: { ...options.logit_bias } }),
    ...(options.logprobs && { top_logprobs: Math.max(1, options.top_logprobs ?? 0) }),
    ...(options.logprobs && options.temperature === 0 && { temperature: 1, top_p: WEBLLM_MIN_TOP_P }),
    messages: system && !tools ? [{ role: "system", content: system }, ...messages] : messages,
    ...(response_format?.type === "json_object" && { response_format: { type: "json_object" } }),
    ...(response_format?.type === "json_schema" && {
      response_format: {
        type: "json_object",
        // WebLLM takes the schema as a JSON string; without one, any JSON object.
        ...(response_format.json_schema.schema && {
          schema: JSON.stringify(response_format.json_schema.schema),
        }),
      },
    }),
    stream: true,
    stream_options: { include_usage: true },
  };
}

type WebLlmMessage = webllm.ChatCompletionMessageParam;

function toWebLlm(m: Exclude<ChatMessage, { role: "system" | "developer" }>): WebLlmMessage {
  let out: WebLlmMessage;
  switch (m.role) {
    case "user": {
      if (typeof m.content === "string") {
        out = { role: "user", content: m.content, ...(m.name && { name: m.name }) };
        break;
      }
      const text = m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("\n");
      const images = m.content.flatMap((p) =>
        p.type === "image_url" ? [{ type: "image_url" as const, image_url: { url: p.image_url.url } }] : [],
      );
      out = {
        role: "user",
        content: [...(text ? [{ type: "text" as const, text }] : []), ...images],
        ...(m.name && { name: m.name }),
      };
      break;
    }
    case "assistant":
      out = {
        role: "assistant",
        content: m.content ?? "",
        ...(m.name && { name: m.name }),
        ...(m.tool_calls && { tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function } })) }),
      };
      break;
    case "tool":
      out = { role: "tool", content: m.content, tool_call_id: m.tool_call_id };
      break;
  }
  return out;
}
