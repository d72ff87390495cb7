import * as v from "valibot";
import {
  type ChatMessage,
  type ChatParams,
  ChatRequest,
  chatOptionsOf,
  IntegerIn,
  MAX_STOP_SEQUENCE_CHARS,
  MAX_STOP_SEQUENCES,
  outOfRangeCode,
} from "../../protocol";
import { isNoOpMessageField, uncarriedField } from "./chat-fields";
import { InvalidRequestError, type RefusalCode } from "./errors";
import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from "./openai-shapes";

/** The most choices OpenAI takes in one request (`n`); Silk serves one. */
const MAX_OPENAI_N = 128;

/** The SDK's own request fields beside OpenAI's (openai-shapes.ts). */
const SDK_FIELDS = ["signal", "score", "score_method", "avoid"];

/**
 * An OpenAI request as the session carries it: text parts joined into one string (image parts
 * kept, for models that declare vision), `max_completion_tokens` as `max_tokens`, `stop` as a
 * list, and the whole checked against the session's own schema, so a bad field is refused here by
 * name instead of by the provider after pairing.
 */
export function toChatParams(p: ChatCompletionCreateParams): ChatParams {
  const uncarried = uncarriedField(p as unknown as Record<string, unknown>, SDK_FIELDS);
  if (uncarried) throw new InvalidRequestError(uncarried.message, uncarried.param, uncarried.code);
  if (p.score_method != null && !p.score?.length)
    throw new InvalidRequestError("score_method: it needs `score`, the tokens to score", "score_method");
  checkN(p.n);
  const stop = stopList(p.stop);
  const unchoosable = unchoosableTool(p);
  if (unchoosable) throw new InvalidRequestError(unchoosable, "tool_choice");
  const unpaired = unpairedToolTurn(p.messages);
  if (unpaired) throw unpairedRefusal(unpaired);
  const maxTokens = tokenLimits(p);
  const params = {
    ...chatOptionsOf({
      ...p,
      stop,
      ...(p.response_format?.type === "text" && { response_format: undefined }),
      // No call among no tools asks for nothing: not sent on, as vLLM refuses any tool_choice
      // without tools (a provider's 502 for a request that asked nothing).
      ...(!p.tools?.length &&
        (p.tool_choice === "none" || p.tool_choice === "auto") && { tool_choice: undefined }),
    }),
    ...(maxTokens.length > 0 && { max_tokens: Math.min(...maxTokens) }),
    model: p.model,
    messages: messagesOf(p.messages),
  };
  const {
    v: _v,
    t: _t,
    id: _id,
    ...request
  } = checkedAgainst(ChatRequest, {
    v: 1,
    t: "request",
    id: "check",
    ...params,
  });
  return request;
}

/**
 * The one wording of a field of the wrong JSON type, OpenAI's: `Invalid type for 'temperature':
 * expected a number, but got a string instead.` (`expected` as a sentence names it).
 */
export function wrongTypeMessage(param: string | undefined, expected: string, value: unknown): string {
  const field = param === undefined ? "the body" : `'${param}'`;
  return `Invalid type for ${field}: expected ${expected}, but got ${typeOf(value)} instead.`;
}

/** The one wording of a required field left out, OpenAI's: `Missing required parameter: 'messages.0.role'.` */
export const missingMessage = (param: string) => `Missing required parameter: '${param}'.`;

/** A field of the wrong JSON type, refused with OpenAI's code (`invalid_type`) and wording. */
export const wrongType = (param: string, expected: string, value: unknown) =>
  new InvalidRequestError(wrongTypeMessage(param, expected, value), param, "invalid_type");

/** A value's JSON type as a sentence names it: "a string", "an array", "null". */
export function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isInteger(value)) return "a decimal";
  const type = typeof value === "number" ? "integer" : typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * `n` as OpenAI takes it, an integer from 1 to 128, refused in its words when it is not one
 * (`Invalid type for 'n': expected an integer, …`, `integer below minimum value`): Silk serves 1
 * (one choice per request).
 */
function checkN(n: unknown): void {
  if (n == null) return;
  checkedAgainst(v.object({ n: IntegerIn(1, MAX_OPENAI_N) }), { n });
  if (n !== 1)
    throw new InvalidRequestError("n: Silk answers one choice per request; send n requests instead", "n");
}

/**
 * `stop` as the session carries it, a list: one sequence (a string) or up to
 * `MAX_STOP_SEQUENCES` of them, each 1 to `MAX_STOP_SEQUENCE_CHARS` characters. A bad one is
 * named as it was sent (`stop` for a string, `stop.N` in a list): the session's schema, checking
 * the list, named an empty string `stop.0` and a number "Expected Array".
 */
function stopList(stop: unknown): string[] | undefined {
  if (stop == null) return undefined;
  const one = typeof stop === "string";
  if (!one && !Array.isArray(stop)) throw wrongType("stop", "a string or an array of strings", stop);
  const list: unknown[] = one ? [stop] : (stop as unknown[]);
  if (list.length > MAX_STOP_SEQUENCES) throw refusal("stop", tooLong("stop", list, MAX_STOP_SEQUENCES));
  for (const [i, s] of list.entries()) {
    const name = one ? "stop" : `stop.${i}`;
    if (typeof s !== "string") throw wrongType(name, "a string", s);
    if (s.length === 0) throw refusal(name, emptyValue(name, s));
    if (s.length > MAX_STOP_SEQUENCE_CHARS) throw refusal(name, tooLong(name, s, MAX_STOP_SEQUENCE_CHARS));
  }
  return list as string[];
}

/**
 * Why `tool_choice` cannot be honoured with the tools sent, or undefined: a call required or a
 * function chosen with no tools, or a function none of them is (as OpenAI, a 400 on
 * `tool_choice`). A backend asked for it would call another function, answer in text, or fail
 * as the provider's 502. `none` and `auto` ask for no call, so they stand without tools.
 */
function unchoosableTool(p: ChatCompletionCreateParams): string | undefined {
  const choice = p.tool_choice as unknown;
  const tools = Array.isArray(p.tools) ? (p.tools as unknown[]) : [];
  if (choice === "required")
    return tools.length === 0 ? "tool_choice: a call is required but no tools are given" : undefined;
  // `none`, `auto`, and what is no choice at all (a number, another word), which the schema names.
  if (typeof choice !== "object" || choice === null) return undefined;
  const type = (choice as { type?: unknown }).type;
  if (typeof type === "string" && type !== "function")
    return `tool_choice: \`${type.slice(0, 40)}\` choices are not carried (\`none\`, \`auto\`, \`required\` or a function by name)`;
  const name = (choice as { function?: { name?: unknown } | null }).function?.name;
  if (typeof name !== "string") return undefined; // a function choice without its name: the schema names it
  if (tools.length === 0) return `tool_choice: \`${name}\` is chosen but no tools are given`;
  const offered = tools.some((t) => (t as { function?: { name?: unknown } } | null)?.function?.name === name);
  return offered ? undefined : `tool_choice: \`${name}\` is not among the tools given`;
}

/** A break in the pairing of tool calls and their answers, by chat message index. */
export type UnpairedToolTurn =
  /** The assistant message at `at` has calls (`ids`) no tool message right after it answers. */
  | { readonly kind: "unanswered"; readonly at: number; readonly ids: readonly string[] }
  /** The tool message at `at` answers `id`, no call of the assistant message before it. */
  | { readonly kind: "stray"; readonly at: number; readonly id: string };

/**
 * A tool call left unanswered, or a tool message answering no call, which OpenAI refuses (400 on
 * that message): every call of an assistant message is answered by the tool messages right after
 * it, each naming one of its calls. A model shown a call with no result, or a result from
 * nowhere, guesses what happened; some backends refuse such a history outright. The gateway's
 * Responses route names the input item of each (responses-body.ts).
 */
export function unpairedToolTurn(messages: readonly unknown[]): UnpairedToolTurn | undefined {
  if (!Array.isArray(messages)) return undefined; // the schema names it
  let open: { at: number; ids: Set<string> } | undefined;
  const unanswered = ({ at, ids }: { at: number; ids: Set<string> }) =>
    ({ kind: "unanswered", at, ids: [...ids] }) as const;
  for (const [i, m] of messages.entries()) {
    const message = m as { role?: unknown; tool_call_id?: unknown; tool_calls?: unknown } | null;
    if (message?.role === "tool") {
      const id = String(message.tool_call_id);
      if (open?.ids.delete(id)) continue;
      return { kind: "stray", at: i, id };
    }
    if (open && open.ids.size > 0) return unanswered(open);
    const calls =
      message?.role === "assistant" && Array.isArray(message.tool_calls) ? message.tool_calls : [];
    open = { at: i, ids: new Set(calls.map((c) => String((c as { id?: unknown } | null)?.id))) };
  }
  return open && open.ids.size > 0 ? unanswered(open) : undefined;
}

/** An id in a refusal: quoted, and cut to 64 characters. */
export const quotedId = (id: string) => `\`${id.slice(0, 64)}\``;

/** A chat request's unpaired tool turn as its 400, naming the message (`messages.N.…`). */
function unpairedRefusal(u: UnpairedToolTurn): InvalidRequestError {
  if (u.kind === "stray")
    return new InvalidRequestError(
      `messages.${u.at}.tool_call_id: a tool message answers a call of the assistant message before it; ${quotedId(u.id)} is none of them (or was answered already)`,
      `messages.${u.at}.tool_call_id`,
    );
  return new InvalidRequestError(
    `messages.${u.at}.tool_calls: every tool call needs a tool message answering it right after; ${u.ids
      .map(quotedId)
      .join(", ")} ${u.ids.length === 1 ? "has" : "have"} none`,
    `messages.${u.at}.tool_calls`,
  );
}

/**
 * `max_tokens` and `max_completion_tokens` as given, each checked alone: both become the session's
 * `max_tokens` (the smaller), so a bad one checked after that was refused as `max_tokens`, a
 * field a caller that sent `max_completion_tokens` never wrote.
 */
function tokenLimits(p: ChatCompletionCreateParams): number[] {
  const limits: number[] = [];
  for (const field of ["max_tokens", "max_completion_tokens"] as const) {
    if (p[field] == null) continue;
    const limit = checkedAgainst(v.object({ [field]: ChatRequest.entries.max_tokens }), {
      [field]: p[field],
    })[field];
    if (limit !== undefined) limits.push(limit);
  }
  return limits;
}

/**
 * A request checked against the session's own schema before it leaves, so a bad field is refused
 * here by name (`param`) rather than by the provider after pairing.
 */
export function checkedAgainst<S extends v.GenericSchema>(schema: S, message: unknown): v.InferOutput<S> {
  const checked = v.safeParse(schema, message);
  if (checked.success) return checked.output;
  const { param, message: text, code } = firstIssue(checked.issues);
  throw new InvalidRequestError(text, param ?? "body", code);
}

/**
 * A schema's first complaint as a program reads it: the field's path (`messages.0.role`, none for
 * the body itself) and a message naming it; a field left out is "Missing required parameter", not valibot's
 * `Invalid key: Expected "model" but received undefined`, an empty one "empty string" (not
 * `Invalid length: Expected >=1 but received 0`), each in OpenAI's words and code, and a field no schema has is one Silk does not
 * carry, not `Invalid key: Expected never`. Of a union's complaint (`Expected (string |
 * Array) but received Array`), the one of the option that got furthest: it names the field that
 * is wrong (`messages.0.content.0.image_url.detail`). The gateway's bodies say it the same way.
 */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): {
  param?: string;
  message: string;
  code: RefusalCode;
} {
  const found = issues[0] && furthest(issues[0], issues[0].path ?? []);
  const issue = found?.issue;
  const param = found?.path.map((x) => String(x.key)).join(".") || undefined;
  const expected = issue && issue.input !== undefined ? typeExpected(issue) : undefined;
  if (expected)
    return { param, message: wrongTypeMessage(param, expected, issue?.input), code: "invalid_type" };
  // A number out of its field's range, worded by its schema as OpenAI words it (less the name).
  const range = issue && param !== undefined ? outOfRangeCode(issue.message) : undefined;
  if (range) return { param, message: `Invalid '${param}': ${issue?.message}`, code: range };
  const shape = issue && param !== undefined ? lengthOrPattern(issue, param) : undefined;
  if (shape) return { param, ...shape };
  if (param !== undefined && issue?.input === undefined)
    return { param, message: missingMessage(param), code: "missing_required_parameter" };
  // A field no schema has: refused as the body's own fields Silk does not carry are (chat-fields.ts).
  const uncarried = param !== undefined && issue?.expected === "never";
  return { ...firstValueIssue(issue, param), code: uncarried ? "unsupported_parameter" : "invalid_value" };
}

/**
 * A string or a list too long, or a string not of its pattern, in OpenAI's words and code (`Invalid
 * 'user': string too long. Expected a string with maximum length 256, but got a string with length
 * 300 instead.`, `string_above_max_length`), not valibot's `Invalid length: Expected <=256 but
 * received 300`.
 */
function lengthOrPattern(
  issue: v.BaseIssue<unknown>,
  param: string,
): { message: string; code: RefusalCode } | undefined {
  const input = issue.input;
  if (issue.type === "max_length" && (typeof input === "string" || Array.isArray(input)))
    return tooLong(param, input, Number(issue.requirement));
  if (
    issue.type === "min_length" &&
    issue.requirement === 1 &&
    (typeof input === "string" || Array.isArray(input))
  )
    return emptyValue(param, input);
  if (issue.type === "regex" && typeof input === "string" && issue.requirement instanceof RegExp)
    return {
      message: `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '${issue.requirement.source}'.`,
      code: "invalid_value",
    };
  return undefined;
}

/** A string or a list longer than `max`, in OpenAI's words and code (`string_above_max_length`). */
function tooLong(
  param: string,
  input: string | readonly unknown[],
  max: number,
): { message: string; code: "string_above_max_length" | "array_above_max_length" } {
  const [what, a] =
    typeof input === "string" ? (["string", "a string"] as const) : (["array", "an array"] as const);
  return {
    message: `Invalid '${param}': ${what} too long. Expected ${a} with maximum length ${max}, but got ${a} with length ${input.length} instead.`,
    code: `${what}_above_max_length`,
  };
}

/**
 * An empty string or list where one is needed, in OpenAI's words and code (`Invalid 'messages':
 * empty array. Expected an array with minimum length 1, but got an empty array instead.`, `empty_array`).
 */
export function emptyValue(
  param: string,
  input: string | readonly unknown[],
): { message: string; code: "empty_string" | "empty_array" } {
  const [what, a] =
    typeof input === "string" ? (["string", "a string"] as const) : (["array", "an array"] as const);
  return {
    message: `Invalid '${param}': empty ${what}. Expected ${a} with minimum length 1, but got an empty ${what} instead.`,
    code: `empty_${what}`,
  };
}

/** A refusal worded by `tooLong` or `emptyValue`, as the SDK's error. */
const refusal = (param: string, { message, code }: { message: string; code: RefusalCode }) =>
  new InvalidRequestError(message, param, code);

/** A value's complaint (not its type's): an empty field, one Silk does not carry, a value not taken. */
function firstValueIssue(
  issue: v.BaseIssue<unknown> | undefined,
  param: string | undefined,
): { param?: string; message: string } {
  if (param !== undefined && issue?.expected === "never")
    return { param, message: `${param}: Silk does not carry this field, and will not drop it silently` };
  const choices = issue && typeof issue.input === "string" ? literalChoices(issue) : undefined;
  if (param !== undefined && choices)
    return {
      param,
      message: `Invalid value for '${param}': '${String(issue?.input).slice(0, 64)}'. Supported values are: ${inWords(
        choices.map((c) => `'${c}'`),
        "and",
      )}.`,
    };
  return {
    ...(param !== undefined && { param }),
    message: `${param ?? "body"}: ${issue?.message ?? "invalid value"}`,
  };
}

/** A JSON type as valibot names it (`Expected number`), as a sentence names it. */
const TYPE_WORDS: Readonly<Record<string, string>> = {
  number: "a number",
  integer: "an integer",
  string: "a string",
  boolean: "a boolean",
  Array: "an array",
  Object: "an object",
  null: "null",
};

/**
 * What an issue of the wrong JSON type expected, in words ("a string or an array"); none for an
 * issue of a value (a picklist's `"auto" | "low"`, a literal, a length). An integer's check
 * (`v.integer()`) is one of type, as OpenAI's "expected an integer, but got a decimal", and an
 * integer field's schema (`IntegerIn`) expects `integer`: "expected an integer, but got a string".
 */
function typeExpected(issue: v.BaseIssue<unknown>): string | undefined {
  if (issue.type === "integer") return "an integer";
  if (issue.kind !== "schema" || !issue.expected) return undefined;
  if (typeof issue.input === "string" && literalChoices(issue)) return undefined;
  const words = expectedNames(issue).map((name) => (isLiteral(name) ? "a string" : TYPE_WORDS[name]));
  if (words.some((w) => w === undefined)) return undefined;
  return inWords([...new Set(words as string[])], "or");
}

/** The names an issue expected: `(("none" | "auto") | Object)` is "none", "auto" and Object. */
const expectedNames = (issue: v.BaseIssue<unknown>) =>
  (issue.expected ?? "").replace(/[()]/g, "").split(" | ");
const isLiteral = (name: string) => /^"[^"]*"$/.test(name);

/**
 * The strings a picklist or a union with literals takes (`("auto" | "low")`, tool_choice's
 * `(("none" | "auto" | "required") | Object)`); none where any string would do, or for any other issue.
 */
function literalChoices(issue: v.BaseIssue<unknown>): string[] | undefined {
  if (issue.kind !== "schema" || !issue.expected) return undefined;
  const names = expectedNames(issue);
  const literals = names.filter(isLiteral);
  if (literals.length === 0 || names.includes("string")) return undefined;
  return literals.map((name) => name.slice(1, -1));
}

/** A list as a sentence says it: "a, b or c". */
const inWords = (items: readonly string[], last: "or" | "and") =>
  items.length === 1 ? String(items[0]) : `${items.slice(0, -1).join(", ")} ${last} ${items.at(-1)}`;

type IssuePath = readonly { key: unknown }[];

/**
 * Of an issue and those of a union's options under it (their paths start at the union), the one
 * with the longest path, with its path from the body; the first of them on a tie.
 */
function furthest(
  issue: v.BaseIssue<unknown>,
  path: IssuePath,
): { issue: v.BaseIssue<unknown>; path: IssuePath } {
  let best = { issue, path };
  for (const sub of issue.issues ?? []) {
    const found = furthest(sub, [...path, ...(sub.path ?? [])]);
    if (found.path.length > best.path.length) best = found;
  }
  return best;
}

function messagesOf(messages: readonly ChatCompletionMessageParam[]): ChatMessage[] {
  try {
    return messages.map(toSessionMessage);
  } catch (err) {
    if (err instanceof InvalidRequestError) throw err;
    // Shapes no type allows (a part that is not an object, …): the schema check names nothing better.
    throw new InvalidRequestError("messages: a message is malformed", "messages");
  }
}

function toSessionMessage(given: ChatCompletionMessageParam, i: number): ChatMessage {
  // A null field asks for nothing (`refusal: null` on an echoed assistant message), nor does an
  // empty `annotations` (chat-fields.ts): left out, as the session's message is strict and the
  // provider refuses any field it does not know.
  const m = Object.fromEntries(
    Object.entries(given).filter(
      ([k, value]) => (value != null && !isNoOpMessageField(given.role, k, value)) || k === "content",
    ),
  ) as unknown as ChatCompletionMessageParam;
  const text = (content: string | { type: string; text?: string }[] | null | undefined) => {
    if (typeof content === "string" || content == null || !Array.isArray(content)) return content as string;
    return content
      .map((part, j) => {
        if (part?.type === "text" && typeof part.text === "string") return part.text;
        throw new InvalidRequestError(
          `messages.${i}.content.${j}: the ${m.role} message takes text parts only`,
          `messages.${i}.content`,
        );
      })
      .join("\n");
  };
  switch (m.role) {
    case "user": {
      const parts = Array.isArray(m.content) ? m.content : undefined;
      if (parts?.some((x) => x?.type !== "text")) return { ...m, content: parts };
      return { ...m, content: text(m.content) ?? "" };
    }
    case "assistant":
      return { ...m, content: text(m.content) ?? null };
    case "tool": {
      // Its `name` repeats the call's, checked in chat-fields.ts (namesItsCall): tool_call_id carries it.
      const { name: _name, ...tool } = m as typeof m & { name?: string };
      return { ...tool, content: text(tool.content) ?? "" };
    }
    default:
      return { ...m, content: text(m.content) ?? "" } as ChatMessage;
  }
}
