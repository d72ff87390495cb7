import * as v from "valibot";
import { MAX_MESSAGES_PER_REQUEST } from "../../protocol";
import type { ChatCompletionCreateParams } from "../sdk/openai-shapes";
import { parseChatBody } from "./chat-body";
import { HttpError, invalidRequest } from "./http-errors";

/**
 * The body of POST /v1/responses (OpenAI's Responses API, which the Vercel AI SDK's `openai(model)`
 * and LangChain's `useResponsesApi` send), for text: it becomes a chat request, checked by the
 * same rules as /v1/chat/completions. What has no chat counterpart Silk carries (tools, earlier
 * responses, reasoning, images, files) is refused by name, never dropped.
 */

/** Fields taken as they are, or mapped onto the chat request. */
const CARRIED = new Set([
  "model",
  "input",
  "instructions",
  "stream",
  "max_output_tokens",
  "temperature",
  "top_p",
  "user",
  "text",
]);

/** Fields refused with a reason; values that ask for nothing are let through. */
const REFUSED: Readonly<Record<string, { why: string; noOp?: (v: unknown) => boolean }>> = {
  tools: {
    why: "tools are served on /v1/chat/completions only",
    noOp: (x) => Array.isArray(x) && x.length === 0,
  },
  tool_choice: {
    why: "tools are served on /v1/chat/completions only",
    noOp: (x) => x === "none" || x === "auto",
  },
  parallel_tool_calls: { why: "tools are served on /v1/chat/completions only", noOp: () => true },
  previous_response_id: { why: "responses are never stored, so there is none to continue" },
  conversation: { why: "responses are never stored, so there is no conversation to continue" },
  store: { why: "responses are never stored", noOp: (x) => x === false },
  metadata: { why: "responses are never stored, so metadata has nowhere to go" },
  background: { why: "responses run in the foreground only", noOp: (x) => x === false },
  reasoning: { why: "reasoning options are not carried to providers" },
  include: { why: "nothing extra can be included", noOp: (x) => Array.isArray(x) && x.length === 0 },
  truncation: { why: "the context is never truncated", noOp: (x) => x === "disabled" },
  service_tier: {
    why: "there is one service tier (`auto` or `default`)",
    noOp: (x) => x === "auto" || x === "default",
  },
  top_logprobs: { why: "logprobs are served on /v1/chat/completions only", noOp: (x) => x === 0 },
  max_tool_calls: { why: "tools are served on /v1/chat/completions only" },
  prompt: { why: "stored prompts are not served" },
  prompt_cache_key: { why: "prompts are never cached across requests" },
  safety_identifier: { why: "use `user`" },
  stream_options: { why: "not carried on /v1/responses" },
};

const Part = v.looseObject({ type: v.string() });
const Item = v.looseObject({
  type: v.optional(v.string()),
  role: v.optional(v.string()),
  content: v.optional(v.union([v.string(), v.array(Part)])),
});
const Body = v.object({
  input: v.union([v.string(), v.pipe(v.array(Item), v.minLength(1), v.maxLength(MAX_MESSAGES_PER_REQUEST))]),
  instructions: v.nullish(v.string()),
  text: v.nullish(
    v.looseObject({
      format: v.nullish(v.looseObject({ type: v.picklist(["text", "json_object", "json_schema"]) })),
    }),
  ),
});

const refuse = (param: string, why: string) =>
  invalidRequest("unsupported_parameter", `${param}: ${why}`, param);

/**
 * Keys an object of the body may hold beyond which are refused by name: what is carried, and what
 * clients echo back from an earlier response (an item's `id` and `status`, a text part's empty
 * `annotations` and its `logprobs`), which says nothing about the new answer.
 */
const NESTED: Readonly<Record<string, readonly string[]>> = {
  text: ["format"],
  "text.format": ["type", "name", "schema", "strict", "description"],
  item: ["type", "role", "content", "id", "status"],
  part: ["type", "text", "annotations", "logprobs"],
};

function refuseExtra(object: Record<string, unknown>, kind: keyof typeof NESTED, at: string): void {
  for (const [key, value] of Object.entries(object)) {
    if (value == null || NESTED[kind]!.includes(key)) continue;
    throw refuse(`${at}.${key}`, "Silk does not carry this field, and will not drop it silently");
  }
  const annotations = object.annotations;
  if (kind === "part" && Array.isArray(annotations) && annotations.length > 0)
    throw refuse(`${at}.annotations`, "annotations of an earlier answer are not carried");
}

function messageOf(item: v.InferOutput<typeof Item>, i: number): { role: string; content: string } {
  if (item.type !== undefined && item.type !== "message")
    throw refuse(`input.${i}.type`, `\`${item.type}\` items are not carried (text messages only)`);
  refuseExtra(item, "item", `input.${i}`);
  const role = item.role ?? "user";
  if (!["system", "developer", "user", "assistant"].includes(role))
    throw invalidRequest("invalid_value", `input.${i}.role: \`${role}\` is not a role`, `input.${i}.role`);
  if (item.content === undefined)
    throw invalidRequest(
      "missing_required_parameter",
      `input.${i}.content: needs content`,
      `input.${i}.content`,
    );
  if (typeof item.content === "string") return { role, content: item.content };
  const texts = item.content.map((part, j) => {
    const text = (part as { text?: unknown }).text;
    if (!["input_text", "output_text", "text"].includes(part.type) || typeof text !== "string")
      throw refuse(`input.${i}.content.${j}.type`, `\`${part.type}\` parts are not carried (text only)`);
    refuseExtra(part, "part", `input.${i}.content.${j}`);
    return text;
  });
  return { role, content: texts.join("\n") };
}

/** The chat request a Responses body asks for, or a 400 naming the field. */
export function parseResponsesBody(json: unknown): { params: ChatCompletionCreateParams; stream: boolean } {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalidRequest("invalid_value", "the body must be a JSON object");
  const body = json as Record<string, unknown>;
  for (const [key, value] of Object.entries(body)) {
    if (value == null || CARRIED.has(key)) continue;
    const refused = REFUSED[key];
    if (refused?.noOp?.(value)) continue;
    throw refuse(key, refused?.why ?? "Silk does not carry this field, and will not drop it silently");
  }
  const parsed = v.safeParse(Body, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const param = issue?.path?.map((p) => String(p.key)).join(".") ?? "input";
    throw invalidRequest("invalid_value", `${param}: ${issue?.message}`, param);
  }
  const { input, instructions, text } = parsed.output;
  if (text) refuseExtra(text, "text", "text");
  if (text?.format) refuseExtra(text.format, "text.format", "text.format");
  const messages = [
    ...(instructions ? [{ role: "system", content: instructions }] : []),
    ...(typeof input === "string" ? [{ role: "user", content: input }] : input.map(messageOf)),
  ];
  const format = text?.format;
  const schema = format as
    | { name?: unknown; schema?: unknown; strict?: unknown; description?: unknown }
    | null
    | undefined;
  const chat = {
    model: body.model,
    messages,
    stream: body.stream,
    max_tokens: body.max_output_tokens,
    temperature: body.temperature,
    top_p: body.top_p,
    user: body.user,
    ...(format &&
      format.type !== "text" && {
        response_format:
          format.type === "json_schema"
            ? {
                type: "json_schema",
                json_schema: {
                  name: schema?.name ?? "output",
                  schema: schema?.schema,
                  strict: schema?.strict,
                  ...(schema?.description != null && { description: schema.description }),
                },
              }
            : { type: "json_object" },
      }),
  };
  try {
    return parseChatBody(chat);
  } catch (err) {
    throw err instanceof HttpError ? asResponsesParam(err) : err;
  }
}

/** A chat field's name in a refusal, as the Responses API calls it. */
const RENAMED: Readonly<Record<string, string>> = {
  max_tokens: "max_output_tokens",
  messages: "input",
  response_format: "text.format",
};

export function asResponsesParam(err: HttpError): HttpError {
  const param = err.param?.split(".")[0];
  const renamed = param ? RENAMED[param] : undefined;
  if (!renamed) return err;
  return new HttpError(
    err.status,
    err.type,
    err.code,
    err.message.replace(param as string, renamed),
    renamed,
  );
}
