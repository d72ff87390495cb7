import * as v from "valibot";
import { MAX_MESSAGES_PER_REQUEST } from "../../protocol";
import { CARRIED_FIELDS, uncarriedField } from "../sdk/chat-fields";
import { firstIssue } from "../sdk/chat-input";
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from "../sdk/openai-shapes";
import { invalidRequest } from "./http-errors";

/**
 * The body of POST /v1/chat/completions. Fields Silk does not carry are refused here by name
 * (400 `unsupported_parameter` with `param`, the SDK's own list in chat-fields.ts), and the values
 * of those it carries are checked by the SDK against the session's own schema
 * (client/sdk/chat-input.ts), so the gateway and the wire cannot disagree on a limit.
 */
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
  const uncarried = uncarriedField(body);
  if (uncarried) throw invalidRequest(uncarried.code, uncarried.message, uncarried.param);
  const parsed = v.safeParse(Body, body);
  if (!parsed.success) {
    const { param, message, code } = firstIssue(parsed.issues);
    throw invalidRequest(code, message, param ?? null);
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
