/**
 * Which fields of an OpenAI chat request Silk carries, and a reason for each it refuses: every
 * field is carried to the provider's engine or refused by name, never dropped. The SDK checks a
 * request against these before it leaves; the gateway checks an HTTP body against them first, to
 * answer with OpenAI's `unsupported_parameter`.
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
  service_tier: "there is one service tier (`auto` or `default`)",
  store: "completions are never stored",
  metadata: "completions are never stored, so metadata has nowhere to go",
  moderation: "moderation is not offered by providers",
  prompt_cache_key: "prompts are never cached across requests",
  prompt_cache_options: "prompts are never cached across requests",
  prompt_cache_retention: "prompts are never cached across requests",
  safety_identifier: "use `user`",
  verbosity: "verbosity is not carried to providers",
};

/** Why Silk refuses a chat field of OpenAI's own, when it says more than "not supported". */
export const whyRefused = (key: string): string | undefined => own(REFUSED, key);

/**
 * An empty `metadata` object: it tags the stored completion with nothing, so there is nothing to
 * store and nothing dropped (programs send `{}` by default). Any key in it is refused: its tags
 * would be lost, since nothing is stored.
 */
export const isEmptyMetadata = (v: unknown): boolean =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/**
 * Harmless values of refused fields that ask for nothing (clients send them by default):
 * `service_tier` "default" is OpenAI's standard processing, which is all Silk has; `modalities`
 * `["text"]` asks for the only output there is; `metadata` `{}` tags with nothing.
 */
const NO_OP: Readonly<Record<string, (value: unknown) => boolean>> = {
  store: (v) => v === false,
  metadata: isEmptyMetadata,
  service_tier: (v) => v === "auto" || v === "default",
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === "text",
};

/**
 * A message field that asks for nothing: an assistant message's empty `annotations`. OpenAI's
 * answers carry `annotations: []`, and a program sends the message back whole as the next turn's;
 * an annotation that says something (a citation) is refused by name, as on /v1/responses.
 */
export const isNoOpMessageField = (role: unknown, key: string, value: unknown): boolean =>
  role === "assistant" && key === "annotations" && Array.isArray(value) && value.length === 0;

/** What each role's message may hold (OpenAI refuses other properties too). */
const MESSAGE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  system: ["role", "content", "name"],
  developer: ["role", "content", "name"],
  user: ["role", "content", "name"],
  assistant: ["role", "content", "name", "tool_calls"],
  tool: ["role", "content", "tool_call_id"],
};

/**
 * `table[key]` when `table` has it as its own entry: a body's key or role may be any string, and
 * `constructor`, `toString` or `__proto__` read through to Object.prototype (a field so named was
 * dropped as if a harmless value, or failed the gateway with a 500).
 */
const own = <T>(table: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined;

export interface Uncarried {
  readonly param: string;
  readonly message: string;
  /** OpenAI's codes for these refusals. */
  readonly code: "unsupported_parameter" | "missing_required_parameter" | "invalid_value";
}

/**
 * The first field of `body` Silk neither carries nor may ignore, with why; undefined when there
 * is none. A null field asks for nothing, as do the NO_OP values. `extra`: the caller's own
 * fields (the SDK's `signal`, …).
 */
export function uncarriedField(
  body: Readonly<Record<string, unknown>>,
  extra: readonly string[] = [],
): Uncarried | undefined {
  for (const [key, value] of Object.entries(body)) {
    if (value == null || own(NO_OP, key)?.(value)) continue;
    if ((CARRIED_FIELDS as readonly string[]).includes(key) || extra.includes(key)) continue;
    const why = own(REFUSED, key) ?? "Silk does not carry this field, and will not drop it silently";
    return { param: key, message: `${key}: ${why}`, code: "unsupported_parameter" };
  }
  if (body.top_logprobs != null && body.top_logprobs !== 0 && body.logprobs !== true)
    return { param: "top_logprobs", message: "top_logprobs: needs `logprobs: true`", code: "invalid_value" };
  // As OpenAI: options for a stream that is not asked for are an error, not ignored.
  if (body.stream_options != null && body.stream !== true)
    return {
      param: "stream_options",
      message: "stream_options: only allowed when `stream` is true",
      code: "invalid_value",
    };
  const options = body.stream_options;
  if (typeof options === "object" && options !== null)
    for (const [key, value] of Object.entries(options)) {
      if (value == null || key === "include_usage" || (key === "include_obfuscation" && value === false))
        continue;
      return {
        param: `stream_options.${key}`,
        message:
          key === "include_obfuscation"
            ? "stream_options.include_obfuscation: Silk's chunks carry no obfuscation padding; send false or leave it out"
            : `stream_options.${key}: Silk does not carry this option, and will not drop it silently`,
        code: "unsupported_parameter",
      };
    }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const [i, m] of messages.entries()) {
    if (typeof m !== "object" || m === null) continue;
    const message = m as Record<string, unknown>;
    const allowed = own(MESSAGE_FIELDS, String(message.role));
    if (!allowed) continue; // an unknown role is refused by the schema, naming the role
    for (const [key, value] of Object.entries(message))
      if (
        value != null &&
        !allowed.includes(key) &&
        !(key === "name" && namesItsCall(messages, i)) &&
        !isNoOpMessageField(message.role, key, value)
      )
        return {
          param: `messages.${i}.${key}`,
          message:
            key === "name" && message.role === "tool"
              ? `messages.${i}.name: a tool message's name must be that of the call it answers (its tool_call_id)`
              : `messages.${i}.${key}: the ${message.role} message does not carry \`${key}\``,
          code: "unsupported_parameter",
        };
    const kind = Array.isArray(message.content) ? uncarriedPartType(message.content) : undefined;
    if (kind)
      return {
        param: `messages.${i}.content.${kind.index}.type`,
        message: `messages.${i}.content.${kind.index}.type: \`${kind.type}\` parts are not carried (text, and image_url for models that declare vision)`,
        code: "invalid_value",
      };
    const part = Array.isArray(message.content) ? uncarriedPartField(message.content) : undefined;
    if (part)
      return {
        param: `messages.${i}.content.${part.index}.${part.key}`,
        message: `messages.${i}.content.${part.index}.${part.key}: a ${part.type} part does not carry \`${part.key}\``,
        code: "unsupported_parameter",
      };
    // Null, or no parts, is no content either: read as "" it would send an empty turn nobody wrote.
    const empty = message.content == null || (Array.isArray(message.content) && message.content.length === 0);
    if (empty && !(message.role === "assistant" && message.tool_calls != null))
      return {
        param: `messages.${i}.content`,
        message: `messages.${i}.content: the ${message.role} message needs content`,
        code: "missing_required_parameter",
      };
  }
  return undefined;
}

/**
 * A tool message's `name` (LangChain's ToolMessage sends it) when it is the name of the call it
 * answers: an earlier assistant message's tool call with its `tool_call_id`. It says nothing the
 * carried `tool_call_id` does not, so it is taken and left out (toSessionMessage); a name of
 * another function, or of no call, is refused by name.
 */
export function namesItsCall(messages: readonly unknown[], i: number): boolean {
  const m = messages[i] as { role?: unknown; name?: unknown; tool_call_id?: unknown };
  if (m.role !== "tool" || typeof m.name !== "string") return false;
  for (const earlier of messages.slice(0, i)) {
    const calls = (earlier as { role?: unknown; tool_calls?: unknown } | null)?.tool_calls;
    if (!Array.isArray(calls)) continue;
    const call = calls.find((c) => (c as { id?: unknown } | null)?.id === m.tool_call_id) as
      | { function?: { name?: unknown } }
      | undefined;
    if (call) return call.function?.name === m.name;
  }
  return false;
}

/** What each kind of content part may hold (others are refused by the schema, naming the kind). */
const PART_FIELDS: Readonly<Record<string, readonly string[]>> = {
  text: ["type", "text"],
  image_url: ["type", "image_url"],
};

/**
 * The first content part of a type Silk does not carry (`input_audio`, `file`, an assistant's
 * `refusal`), named by its type: the schema's refusal was a union's ("Expected (string | Array)
 * but received Array") on the whole content.
 */
function uncarriedPartType(parts: readonly unknown[]) {
  for (const [index, p] of parts.entries()) {
    const type = (p as { type?: unknown } | null)?.type;
    if (typeof type === "string" && !own(PART_FIELDS, type)) return { index, type: type.slice(0, 40) };
  }
  return undefined;
}

/** The first field of a content part that Silk would otherwise drop (`cache_control`, …). */
function uncarriedPartField(parts: readonly unknown[]) {
  for (const [index, p] of parts.entries()) {
    if (typeof p !== "object" || p === null) continue;
    const part = p as Record<string, unknown>;
    const allowed = own(PART_FIELDS, String(part.type));
    if (!allowed) continue;
    const key = Object.keys(part).find((k) => part[k] != null && !allowed.includes(k));
    if (key) return { index, key, type: String(part.type) };
  }
  return undefined;
}
