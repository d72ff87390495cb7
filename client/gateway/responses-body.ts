import * as v from "valibot";
import { MAX_MESSAGES_PER_REQUEST } from "../../protocol";
import { isEmptyMetadata, isNoOpMessageField, whyRefused } from "../sdk/chat-fields";
import { firstIssue, quotedId, unpairedToolTurn } from "../sdk/chat-input";
import type { ChatCompletionCreateParams } from "../sdk/openai-shapes";
import { parseChatBody } from "./chat-body";
import { HttpError, invalidRequest } from "./http-errors";
import { type ItemRecall, NO_ITEMS } from "./item-memory";
import type { ResponseMeta } from "./responses-answer";

/**
 * The body of POST /v1/responses (OpenAI's Responses API, which the Vercel AI SDK's `openai(model)`
 * and LangChain's `useResponsesApi` send), for text and function tools: it becomes a chat request,
 * checked by the same rules as /v1/chat/completions (function tools and calls map one to one onto
 * chat's). What has no chat counterpart Silk carries (hosted tools, earlier responses, reasoning,
 * images, files) is refused by name, never dropped.
 */

/** Fields taken as they are, or mapped onto the chat request. */
export const RESPONSES_CARRIED_FIELDS = [
  "model",
  "input",
  "instructions",
  "stream",
  "max_output_tokens",
  "temperature",
  "top_p",
  "user",
  "text",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "include",
  "top_logprobs",
] as const;
const CARRIED: ReadonlySet<string> = new Set(RESPONSES_CARRIED_FIELDS);

/** Fields refused with a reason; values that ask for nothing are let through. */
const REFUSED: Readonly<Record<string, { why: string; noOp?: (v: unknown) => boolean }>> = {
  previous_response_id: { why: "responses are never stored, so there is none to continue" },
  conversation: { why: "responses are never stored, so there is no conversation to continue" },
  store: { why: "responses are never stored", noOp: (x) => x === false },
  metadata: { why: "responses are never stored, so metadata has nowhere to go", noOp: isEmptyMetadata },
  background: { why: "responses run in the foreground only", noOp: (x) => x === false },
  reasoning: { why: "reasoning options are not carried to providers" },
  truncation: { why: "the context is never truncated", noOp: (x) => x === "disabled" },
  service_tier: {
    why: "there is one service tier (`auto` or `default`)",
    noOp: (x) => x === "auto" || x === "default",
  },
  max_tool_calls: { why: "providers' engines cannot bound the number of tool calls" },
  prompt: { why: "stored prompts are not served" },
  prompt_cache_key: { why: "prompts are never cached across requests" },
  prompt_cache_options: { why: "prompts are never cached across requests" },
  prompt_cache_retention: { why: "prompts are never cached across requests" },
  moderation: { why: "moderation is not offered by providers" },
  context_management: { why: "the context is never compacted or truncated" },
  safety_identifier: { why: "use `user`" },
  // As on chat: `include_obfuscation: false` asks for what Silk's events already are (no padding).
  stream_options: {
    why: "only `include_obfuscation: false` is taken on /v1/responses (Silk's events carry no obfuscation padding)",
    noOp: (x) =>
      typeof x === "object" &&
      x !== null &&
      Object.entries(x).every(
        ([k, value]) => value == null || (k === "include_obfuscation" && value === false),
      ),
  },
};

const Part = v.looseObject({ type: v.string() });
const Item = v.looseObject({
  type: v.optional(v.string()),
  role: v.optional(v.string()),
  content: v.optional(v.union([v.string(), v.array(Part)])),
});
const Items = v.pipe(v.array(Item), v.minLength(1), v.maxLength(MAX_MESSAGES_PER_REQUEST));
const Body = v.object({
  input: v.union([v.string(), Items]),
  instructions: v.nullish(v.string()),
  text: v.nullish(
    v.looseObject({
      format: v.nullish(v.looseObject({ type: v.picklist(["text", "json_object", "json_schema"]) })),
    }),
  ),
  // Checked here: without tools it is not carried (it asks nothing then), and was not checked.
  parallel_tool_calls: v.nullish(v.boolean()),
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
  function_call: ["type", "call_id", "name", "arguments", "id", "status"],
  function_call_output: ["type", "call_id", "output", "id", "status"],
  tool: ["type", "name", "description", "parameters", "strict"],
  item_reference: ["type", "id"],
};

/** The fields of `text.format` only a json_schema format has (NESTED lists them for every type). */
const SCHEMA_FORMAT_FIELDS = ["name", "schema", "strict", "description"] as const;

function refuseExtra(object: Record<string, unknown>, kind: keyof typeof NESTED, at: string): void {
  for (const [key, value] of Object.entries(object)) {
    if (value == null || NESTED[kind]!.includes(key)) continue;
    // `text.verbosity` is chat's `verbosity`: refused with the same reason.
    const why = kind === "text" && key === "verbosity" ? whyRefused(key) : undefined;
    throw refuse(`${at}.${key}`, why ?? "Silk does not carry this field, and will not drop it silently");
  }
  // An earlier answer's text part: only its empty `annotations` ask for nothing, as on chat's messages.
  const annotations = object.annotations;
  if (kind === "part" && annotations != null && !isNoOpMessageField("assistant", "annotations", annotations))
    throw refuse(`${at}.annotations`, "annotations of an earlier answer are not carried");
}

type ChatMessage = Record<string, unknown> & { role: string };

/**
 * The item an `item_reference` names: one this gateway answered with lately (item-memory.ts), as
 * if sent whole; any other is 400 naming its id, saying what to send instead.
 */
function referenced(
  ref: Record<string, unknown>,
  at: string,
  memory: ItemRecall,
): v.InferOutput<typeof Item> {
  refuseExtra(ref, "item_reference", at);
  const id = text(ref, "id", at);
  const item = memory.recall(id);
  if (!item)
    throw invalidRequest(
      "invalid_value",
      `${at}.id: ${quotedId(id)} is no item this gateway answered with in the last hour (responses are never stored; it keeps its own answers' items in memory to resolve references, the last ${memory.max}): send the item itself (the Vercel AI SDK does with providerOptions: { openai: { store: false } })`,
      `${at}.id`,
    );
  return item as v.InferOutput<typeof Item>;
}

/** A string field of an input item, or a 400 naming it. */
function text(item: Record<string, unknown>, key: string, at: string): string {
  const value = item[key];
  if (typeof value !== "string")
    throw invalidRequest("invalid_value", `${at}.${key}: must be a string`, `${at}.${key}`);
  return value;
}

/**
 * A function_call_output's `output`: a string, or (the Responses API's other form) a list of
 * `input_text` parts, carried as their text a line each, as a message's parts are; an image or a
 * file part is refused naming it, never dropped.
 */
function outputOf(item: Record<string, unknown>, at: string): string {
  const output = item.output;
  if (typeof output === "string") return output;
  if (!Array.isArray(output))
    throw invalidRequest(
      "invalid_value",
      `${at}.output: must be a string or a list of input_text parts`,
      `${at}.output`,
    );
  if (output.length === 0)
    throw invalidRequest("missing_required_parameter", `${at}.output: needs content`, `${at}.output`);
  return output
    .map((part: unknown, j) => {
      const p = (typeof part === "object" && part !== null ? part : {}) as Record<string, unknown>;
      if (p.type !== "input_text" || typeof p.text !== "string")
        throw refuse(
          `${at}.output.${j}.type`,
          `\`${String(p.type)}\` parts are not carried (input_text only)`,
        );
      refuseExtra(p, "part", `${at}.output.${j}`);
      return p.text;
    })
    .join("\n");
}

/**
 * Where a chat message came from: `instructions`, `input` itself (a string), or an input item
 * (`item`), with the items of its tool calls in order; `output` for a function_call_output's.
 */
export interface MessageSource {
  readonly item: number | "instructions" | "input";
  readonly calls: number[];
  readonly output?: boolean;
}

/**
 * The chat messages of the input items, with where each came from: a function call becomes a tool
 * call of the assistant message before it (consecutive calls, one message, as chat has them), its
 * output a tool message. A call or an output left unpaired is refused naming its item as sent.
 */
function messagesOf(
  items: readonly v.InferOutput<typeof Item>[],
  memory: ItemRecall,
): {
  messages: ChatMessage[];
  sources: MessageSource[];
} {
  const out: ChatMessage[] = [];
  const sources: MessageSource[] = [];
  for (const [i, sent] of items.entries()) {
    const at = `input.${i}`;
    const item = sent.type === "item_reference" ? referenced(sent, at, memory) : sent;
    if (item.type === "function_call") {
      refuseExtra(item, "function_call", at);
      const call = {
        id: text(item, "call_id", at),
        type: "function",
        function: { name: text(item, "name", at), arguments: text(item, "arguments", at) },
      };
      const last = out.at(-1);
      if (last?.role === "assistant") {
        last.tool_calls = [...((last.tool_calls as unknown[]) ?? []), call];
        sources.at(-1)?.calls.push(i);
      } else {
        out.push({ role: "assistant", content: null, tool_calls: [call] });
        sources.push({ item: i, calls: [i] });
      }
    } else if (item.type === "function_call_output") {
      refuseExtra(item, "function_call_output", at);
      out.push({ role: "tool", tool_call_id: text(item, "call_id", at), content: outputOf(item, at) });
      sources.push({ item: i, calls: [], output: true });
    } else {
      out.push(messageOf(item, i));
      sources.push({ item: i, calls: [] });
    }
  }
  const unpaired = unpairedToolTurn(out);
  if (unpaired?.kind === "stray") {
    const at = `input.${sources[unpaired.at]?.item}`;
    throw invalidRequest(
      "invalid_value",
      `${at}.call_id: a function_call_output answers a function_call of the turn before it; ${quotedId(unpaired.id)} is none of them (or was answered already)`,
      `${at}.call_id`,
    );
  }
  if (unpaired) {
    const [id = ""] = unpaired.ids;
    const calls = (out[unpaired.at]?.tool_calls ?? []) as { id: string }[];
    const source = sources[unpaired.at];
    const at = `input.${source?.calls[calls.findIndex((c) => c.id === id)] ?? source?.item}`;
    throw invalidRequest(
      "invalid_value",
      `${at}: every function_call needs a function_call_output answering it before the next message; ${quotedId(id)} has none`,
      at,
    );
  }
  return { messages: out, sources };
}

/**
 * A chat message's field (`messages.N.…`, as the SDK's checks name it) as the Responses request
 * sent it: the input item it came from, a call's fields on its function_call item
 * (`tool_calls.M.function.name` → `input.K.name`, `id` → `call_id`), a tool message's on its
 * function_call_output (`content` → `output`); undefined for any other field.
 */
function inputPath(param: string, sources: readonly MessageSource[]): string | undefined {
  const m = param.match(/^messages\.(\d+)(?:\.(.+))?$/);
  const source = m ? sources[Number(m[1])] : undefined;
  if (!m || !source) return undefined;
  if (source.item === "instructions" || source.item === "input") return source.item;
  const rest = m[2];
  const call = rest?.match(/^tool_calls\.(\d+)(?:\.(.+))?$/);
  const callItem = call ? source.calls[Number(call[1])] : undefined;
  if (call && callItem !== undefined) {
    const field = call[2] === "id" ? "call_id" : call[2]?.replace(/^function\./, "");
    return `input.${callItem}${field ? `.${field}` : ""}`;
  }
  if (rest === "tool_call_id") return `input.${source.item}.call_id`;
  if (rest?.startsWith("content")) return `input.${source.item}.${source.output ? "output" : "content"}`;
  return `input.${source.item}`;
}

/** What `include` may ask for: the answer's logprobs, nothing else (no hosted tools, nothing stored). */
const LOGPROBS = "message.output_text.logprobs";

/**
 * `include` and `top_logprobs` as chat's `logprobs` and `top_logprobs`: `include` may name only the
 * answer's logprobs (anything else refused naming its entry); `top_logprobs` alternatives come
 * with them, so without them, more than 0 is refused (OpenAI answers it with empty logprobs).
 */
function logprobsOf(include: unknown, top: unknown): { logprobs?: boolean; top_logprobs?: unknown } {
  if (include != null && !Array.isArray(include))
    throw invalidRequest("invalid_type", "include: must be a list", "include");
  for (const [i, entry] of (include ?? []).entries())
    if (entry !== LOGPROBS)
      throw refuse(
        `include.${i}`,
        `only \`${LOGPROBS}\` can be included (nothing is stored, no hosted tools run)`,
      );
  const asked = Array.isArray(include) && include.length > 0;
  if (!asked && top != null && top !== 0)
    throw invalidRequest(
      "invalid_value",
      `top_logprobs: comes with the answer's logprobs; add \`include: ["${LOGPROBS}"]\``,
      "top_logprobs",
    );
  // The value itself is checked as chat's (an integer, 0 to 20).
  return asked ? { logprobs: true, ...(top != null && { top_logprobs: top }) } : {};
}

/** Function tools in chat's shape; hosted tools (web search, files, MCP, …) are refused by name. */
function toolsOf(tools: unknown): unknown {
  if (!Array.isArray(tools)) return tools; // the SDK's schema names what is wrong
  return tools.map((t: unknown, i) => {
    if (typeof t !== "object" || t === null) return t;
    const tool = t as Record<string, unknown>;
    if (tool.type !== "function")
      throw refuse(
        `tools.${i}.type`,
        `\`${String(tool.type)}\` tools are not offered by providers (function tools only)`,
      );
    refuseExtra(tool, "tool", `tools.${i}`);
    const { name, description, parameters, strict } = tool;
    return {
      type: "function",
      function: {
        name,
        ...(description != null && { description }),
        ...(parameters != null && { parameters }),
        ...(strict != null && { strict }),
      },
    };
  });
}

/** `{ type: "function", name }` in chat's shape; the modes as they are; anything else refused. */
function toolChoiceOf(choice: unknown): unknown {
  if (typeof choice === "string" || typeof choice !== "object" || choice === null) return choice;
  const c = choice as Record<string, unknown>;
  if (c.type !== "function" || Object.keys(c).some((k) => k !== "type" && k !== "name"))
    throw refuse("tool_choice", "only `none`, `auto`, `required` or a function by name are carried");
  return { type: "function", function: { name: c.name } };
}

function messageOf(item: v.InferOutput<typeof Item>, i: number): ChatMessage {
  if (item.type !== undefined && item.type !== "message")
    throw refuse(
      `input.${i}.type`,
      `\`${item.type}\` items are not carried (messages and function calls only)`,
    );
  refuseExtra(item, "item", `input.${i}`);
  const role = item.role ?? "user";
  if (!["system", "developer", "user", "assistant"].includes(role))
    throw invalidRequest("invalid_value", `input.${i}.role: \`${role}\` is not a role`, `input.${i}.role`);
  if (item.content === undefined || (Array.isArray(item.content) && item.content.length === 0))
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
export function parseResponsesBody(
  json: unknown,
  memory: ItemRecall = NO_ITEMS,
): {
  params: ChatCompletionCreateParams;
  stream: boolean;
  /** What the response object echoes of the request's tools. */
  echo: Pick<
    ResponseMeta,
    | "tools"
    | "toolChoice"
    | "parallelToolCalls"
    | "instructions"
    | "temperature"
    | "topP"
    | "maxOutputTokens"
    | "logprobs"
    | "topLogprobs"
  >;
  /** Where each chat message came from, for `asResponsesParam`. */
  sources: readonly MessageSource[];
} {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalidRequest("invalid_value", "the body must be a JSON object");
  const body = json as Record<string, unknown>;
  for (const [key, value] of Object.entries(body)) {
    if (value == null || CARRIED.has(key)) continue;
    const refused = REFUSED[key];
    if (refused?.noOp?.(value)) continue;
    throw refuse(key, refused?.why ?? "Silk does not carry this field, and will not drop it silently");
  }
  // A list of items checked as one, so a bad item is named by its path (`input.1.content`), not
  // as the union of a string and a list ("Expected (string | Array) but received Array").
  const items = Array.isArray(body.input)
    ? v.safeParse(v.object({ input: Items }), { input: body.input })
    : undefined;
  const parsed = items?.success === false ? items : v.safeParse(Body, body);
  if (!parsed.success) {
    const { param = "input", message, code } = firstIssue(parsed.issues);
    throw invalidRequest(code, message, param);
  }
  const { input, instructions, text } = parsed.output;
  if (text) refuseExtra(text, "text", "text");
  if (text?.format) refuseExtra(text.format, "text.format", "text.format");
  // A json_schema format's own fields on `text` or `json_object` have nowhere to go: a schema
  // given there would be dropped, the answer unschematised as if it had been taken.
  if (text?.format && text.format.type !== "json_schema")
    for (const key of SCHEMA_FORMAT_FIELDS)
      if (text.format[key] != null)
        throw refuse(`text.format.${key}`, `only a json_schema format takes \`${key}\``);
  // As OpenAI's: a json_schema format names its schema and gives it (chat's leaves both looser).
  if (text?.format?.type === "json_schema")
    for (const key of ["name", "schema"])
      if (text.format[key] == null)
        throw invalidRequest(
          "missing_required_parameter",
          `text.format.${key}: a json_schema format needs its ${key}`,
          `text.format.${key}`,
        );
  const logprobs = logprobsOf(body.include, body.top_logprobs);
  const given =
    typeof input === "string"
      ? { messages: [{ role: "user", content: input }], sources: [{ item: "input" as const, calls: [] }] }
      : messagesOf(input, memory);
  const messages = [...(instructions ? [{ role: "system", content: instructions }] : []), ...given.messages];
  const sources = [...(instructions ? [{ item: "instructions" as const, calls: [] }] : []), ...given.sources];
  // No tools asks for none: an empty list, and a choice or parallelism among none, are nothing.
  const tools = Array.isArray(body.tools) && body.tools.length === 0 ? undefined : body.tools;
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
    ...logprobs,
    ...(tools != null && {
      tools: toolsOf(tools),
      tool_choice: toolChoiceOf(body.tool_choice),
      parallel_tool_calls: body.parallel_tool_calls,
    }),
    ...(tools == null &&
      body.tool_choice !== "none" &&
      body.tool_choice !== "auto" && {
        tool_choice: toolChoiceOf(body.tool_choice),
      }),
    ...(format &&
      format.type !== "text" && {
        response_format:
          format.type === "json_schema"
            ? {
                type: "json_schema",
                json_schema: {
                  name: schema?.name,
                  schema: schema?.schema,
                  strict: schema?.strict,
                  ...(schema?.description != null && { description: schema.description }),
                },
              }
            : { type: "json_object" },
      }),
  };
  const echo = {
    ...(Array.isArray(tools) && { tools }),
    ...(body.tool_choice != null && { toolChoice: body.tool_choice }),
    ...(typeof body.parallel_tool_calls === "boolean" && { parallelToolCalls: body.parallel_tool_calls }),
  };
  try {
    const parsedChat = parseChatBody(chat);
    const { temperature, top_p, max_tokens, logprobs: withLogprobs, top_logprobs } = parsedChat.params;
    const asked = {
      ...(withLogprobs && { logprobs: true, topLogprobs: top_logprobs ?? 0 }),
      ...(instructions != null && { instructions }),
      ...(temperature != null && { temperature }),
      ...(top_p != null && { topP: top_p }),
      ...(max_tokens != null && { maxOutputTokens: max_tokens }),
    };
    return { ...parsedChat, echo: { ...echo, ...asked }, sources };
  } catch (err) {
    throw err instanceof HttpError ? asResponsesParam(err, sources) : err;
  }
}

/** A chat field's name in a refusal, as the Responses API calls it. */
const RENAMED: Readonly<Record<string, string>> = {
  max_tokens: "max_output_tokens",
  logprobs: "include",
  messages: "input",
  response_format: "text.format",
};

/**
 * A refusal of the chat request as the Responses request named it: a message's field by the item
 * it came from (`sources`, from parseResponsesBody), the others by the Responses API's names.
 */
export function asResponsesParam(err: HttpError, sources: readonly MessageSource[] = []): HttpError {
  const item = err.param ? inputPath(err.param, sources) : undefined;
  if (item && err.param)
    return new HttpError(
      err.status,
      err.type,
      err.code,
      // Where the message names it: first (`messages.2.content: …`) or quoted (`Invalid 'messages.2.name': …`).
      err.message.replace(err.param, item),
      item,
      err.detail,
    );
  // A function tool's fields sit on the tool itself in the Responses API.
  const nested = err.param?.match(/^(tools\.\d+|tool_choice)\.function\.(.+)$/);
  if (nested)
    return new HttpError(
      err.status,
      err.type,
      err.code,
      err.message.replace(".function.", "."),
      `${nested[1]}.${nested[2]}`,
      err.detail,
    );
  // A json_schema format's own fields sit on `text.format` itself.
  const schemaField = err.param?.match(/^response_format\.json_schema\.(.+)$/);
  if (schemaField)
    return new HttpError(
      err.status,
      err.type,
      err.code,
      err.message.replace("response_format.json_schema.", "text.format."),
      `text.format.${schemaField[1]}`,
      err.detail,
    );
  const param = err.param?.split(".")[0];
  const renamed = param ? RENAMED[param] : undefined;
  if (!renamed) return err;
  return new HttpError(
    err.status,
    err.type,
    err.code,
    err.message.replace(param as string, renamed),
    renamed,
    err.detail,
  );
}
