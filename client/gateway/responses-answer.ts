import { type LogprobEntry, type ToolCall, utf8 } from "../../protocol";
import type { ChatCompletion, ChatCompletionChunk, CompletionUsage } from "../sdk/openai-shapes";

/**
 * A chat answer in the Responses API's shapes: the whole response object, or its stream of
 * events (`response.created`, `response.in_progress`; per output item, its `output_item.added`, its deltas — text in a
 * message's `output_text` part, arguments of a `function_call` — and its closing events; then
 * `response.completed` with usage). Silk's `usage.silk` (cost, provider, signed answer) rides
 * along as on chat.
 */
export interface ResponseMeta {
  readonly id: string;
  readonly model: string;
  readonly createdAt: number;
  /** What the request asked of tools, echoed in the response object as OpenAI does. */
  readonly tools?: readonly unknown[];
  readonly toolChoice?: unknown;
  readonly parallelToolCalls?: boolean;
  /** What the request asked of the answer, echoed (null when not asked) as OpenAI's Response does. */
  readonly instructions?: string;
  readonly temperature?: number;
  readonly topP?: number;
  readonly maxOutputTokens?: number;
  /** The answer's logprobs were asked for (`include`), with this many alternatives each. */
  readonly logprobs?: boolean;
  readonly topLogprobs?: number;
}

/** A token's logprob as the Responses API has it: its bytes always given (chat's may be null). */
type Logprob = {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
};

const bytesOf = (token: string, bytes: readonly number[] | null | undefined) =>
  bytes ? [...bytes] : [...utf8(token)];

function logprobsOf(entries: readonly LogprobEntry[] | null | undefined): Logprob[] {
  return (entries ?? []).map((e) => ({
    token: e.token,
    logprob: e.logprob,
    bytes: bytesOf(e.token, e.bytes),
    top_logprobs: e.top_logprobs.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: bytesOf(t.token, t.bytes),
    })),
  }));
}

type Finish = ChatCompletion["choices"][number]["finish_reason"] | null | undefined;
type Status = "in_progress" | "completed" | "incomplete";

/** Why an answer is incomplete, in the Responses API's words: its token limit, or its backend's content filter. */
const INCOMPLETE: Partial<Record<NonNullable<Finish>, string>> = {
  length: "max_output_tokens",
  content_filter: "content_filter",
};
const statusOf = (finish: Finish): "completed" | "incomplete" =>
  finish && INCOMPLETE[finish] ? "incomplete" : "completed";

function usageOf(u: CompletionUsage | null | undefined) {
  if (!u) return null;
  return {
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens,
    ...(u.silk && { silk: u.silk }),
  };
}

const suffix = (meta: ResponseMeta) => meta.id.slice("resp_".length);
const messageId = (meta: ResponseMeta) => `msg_${suffix(meta)}`;
const callItemId = (meta: ResponseMeta, n: number) => `fc_${suffix(meta)}_${n}`;

function message(meta: ResponseMeta, text: string, status: Status, logprobs: Logprob[] = []) {
  return {
    type: "message",
    id: messageId(meta),
    status,
    role: "assistant",
    content: status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [], logprobs }],
  };
}

function functionCall(meta: ResponseMeta, n: number, call: ToolCall, status: Status) {
  return {
    type: "function_call",
    id: callItemId(meta, n),
    call_id: call.id,
    name: call.function.name,
    arguments: status === "in_progress" ? "" : call.function.arguments,
    status,
  };
}

function response(
  meta: ResponseMeta,
  status: string,
  output: unknown[],
  text: string,
  finish: Finish,
  usage: unknown,
) {
  return {
    id: meta.id,
    object: "response",
    created_at: meta.createdAt,
    status,
    model: meta.model,
    output,
    output_text: text,
    error: null,
    incomplete_details: finish && INCOMPLETE[finish] ? { reason: INCOMPLETE[finish] } : null,
    instructions: meta.instructions ?? null,
    temperature: meta.temperature ?? null,
    top_p: meta.topP ?? null,
    max_output_tokens: meta.maxOutputTokens ?? null,
    top_logprobs: meta.topLogprobs ?? null,
    usage,
    parallel_tool_calls: meta.parallelToolCalls ?? true,
    tool_choice: meta.toolChoice ?? "auto",
    tools: meta.tools ?? [],
    store: false,
    metadata: {},
  };
}

/**
 * A whole (non-streamed) answer: the response the same answer streamed ends with, built from the
 * chat stream's chunks by the same ResponseEvents. A whole chat completion could not say it: its
 * logprobs are one list for the text's tokens and the tool calls' alike (the message's must be the
 * text's only, as a streamed one's are), and its text is one string where a stream holds text
 * that came after a call in a message of its own.
 */
export async function wholeResponse(meta: ResponseMeta, chunks: AsyncIterable<ChatCompletionChunk>) {
  const events = new ResponseEvents(meta);
  for await (const c of chunks) events.chunk(c);
  return events.whole();
}

/** An output item of a streamed answer, at its output index: a message, or a tool call (by its chat index). */
type Item =
  | { readonly kind: "message"; at: number; readonly id: string; text: string; readonly logprobs: Logprob[] }
  | { readonly kind: "call"; at: number; readonly n: number; readonly call: ToolCall };

/**
 * The events of one streamed answer, fed chunk by chunk; `end` gives the closing events. As
 * OpenAI's stream, one output item is open at a time, and nothing is said of an item after its
 * `output_item.done`. Text streams live until a tool call begins; that call's arguments stream
 * live, and whatever comes while it is open (another call, text after it) is held, whole, until
 * the answer ends: a chat stream may interleave calls' pieces (`index` 0, 1, then 0 again), which
 * the Responses API's events cannot say once call 0 is done. Each item's `done` carries its final
 * status and content, as the terminal event's response does: only the last item of an answer cut
 * at its token limit is `incomplete`.
 */
export class ResponseEvents {
  private seq = 0;
  private finish: Finish;
  private usage: CompletionUsage | null | undefined;
  /** The output items the client was told of (added), in order, with their status once done. */
  private readonly items: Item[] = [];
  private readonly statuses = new Map<Item, Status>();
  /** Items begun while a call was open, not yet added: said whole at the end. */
  private readonly held: Item[] = [];
  private readonly callsByIndex: (Item & { kind: "call" })[] = [];
  private open: Item | undefined;

  constructor(private readonly meta: ResponseMeta) {}

  private event(type: string, body: Record<string, unknown>) {
    return { type, sequence_number: this.seq++, ...body };
  }

  private get text(): string {
    return [...this.items, ...this.held].map((i) => (i.kind === "message" ? i.text : "")).join("");
  }

  private itemOf(i: Item, status: Status) {
    if (i.kind === "call") return functionCall(this.meta, i.n, i.call, status);
    return { ...message(this.meta, i.text, status, i.logprobs), id: i.id };
  }

  /** The stream's opening, as OpenAI's: `response.created`, then `response.in_progress`. */
  start(): unknown[] {
    const opened = () => ({ response: response(this.meta, "in_progress", [], "", null, null) });
    return [this.event("response.created", opened()), this.event("response.in_progress", opened())];
  }

  /** Opens `item` (the open one, if any, closed as done first): the events saying so. */
  private add(item: Item): unknown[] {
    const events = this.closeOpen("completed");
    item.at = this.items.length;
    this.items.push(item);
    this.open = item;
    events.push(
      this.event("response.output_item.added", {
        output_index: item.at,
        item: this.itemOf(item, "in_progress"),
      }),
    );
    if (item.kind === "message")
      events.push(
        this.event("response.content_part.added", {
          item_id: item.id,
          output_index: item.at,
          content_index: 0,
          part: { type: "output_text", text: "", annotations: [], logprobs: [] },
        }),
      );
    return events;
  }

  private newMessage(): Item & { kind: "message" } {
    const at = this.items.length + this.held.length;
    const first = ![...this.items, ...this.held].some((i) => i.kind === "message");
    // The first message keeps the id a non-streamed answer's has; a later one (text after a call) its own.
    return {
      kind: "message",
      at,
      id: first ? messageId(this.meta) : `${messageId(this.meta)}_${at}`,
      text: "",
      logprobs: [],
    };
  }

  private textDelta(item: Item & { kind: "message" }, delta: string, logprobs: Logprob[]) {
    return this.event("response.output_text.delta", {
      item_id: item.id,
      output_index: item.at,
      content_index: 0,
      delta,
      logprobs,
    });
  }

  private argumentsDelta(item: Item & { kind: "call" }, delta: string) {
    return this.event("response.function_call_arguments.delta", {
      item_id: callItemId(this.meta, item.n),
      output_index: item.at,
      delta,
    });
  }

  /** The open item's closing events, with `status` as its final status. */
  private closeOpen(status: Status): unknown[] {
    const item = this.open;
    this.open = undefined;
    if (!item) return [];
    this.statuses.set(item, status);
    if (item.kind === "call")
      return [
        this.event("response.function_call_arguments.done", {
          item_id: callItemId(this.meta, item.n),
          output_index: item.at,
          name: item.call.function.name,
          arguments: item.call.function.arguments,
        }),
        this.event("response.output_item.done", { output_index: item.at, item: this.itemOf(item, status) }),
      ];
    const ids = { item_id: item.id, output_index: item.at, content_index: 0 };
    const part = { type: "output_text", text: item.text, annotations: [], logprobs: item.logprobs };
    return [
      this.event("response.output_text.done", { ...ids, text: item.text, logprobs: item.logprobs }),
      this.event("response.content_part.done", { ...ids, part }),
      this.event("response.output_item.done", { output_index: item.at, item: this.itemOf(item, status) }),
    ];
  }

  chunk(c: ChatCompletionChunk): unknown[] {
    if (c.usage) this.usage = c.usage;
    const choice = c.choices[0];
    if (choice?.finish_reason) this.finish = choice.finish_reason;
    const events: unknown[] = [];
    const delta = choice?.delta.content;
    if (delta) {
      // The logprobs of the text's tokens, when asked for (a tool call's pieces have none here).
      const logprobs = this.meta.logprobs ? logprobsOf(choice?.logprobs?.content) : [];
      if (this.open?.kind === "call") {
        // Text after a call began: held, in a message of its own after it.
        const last = this.held.at(-1);
        const item = last?.kind === "message" ? last : this.newMessage();
        if (item !== last) this.held.push(item);
        item.text += delta;
        item.logprobs.push(...logprobs);
      } else {
        if (!this.open) events.push(...this.add(this.newMessage()));
        const item = this.open as Item & { kind: "message" };
        item.text += delta;
        item.logprobs.push(...logprobs);
        events.push(this.textDelta(item, delta, logprobs));
      }
    }
    for (const d of choice?.delta.tool_calls ?? []) {
      let entry = this.callsByIndex[d.index];
      if (!entry) {
        const call: ToolCall = {
          id: d.id ?? `call_${suffix(this.meta)}_${d.index}`,
          type: "function",
          function: { name: d.function?.name ?? "", arguments: "" },
        };
        entry = { kind: "call", at: this.items.length + this.held.length, n: d.index, call };
        this.callsByIndex[d.index] = entry;
        // The first call opens now (the text before it done); any later one waits for the end.
        if (this.open?.kind === "call") this.held.push(entry);
        else events.push(...this.add(entry));
      }
      const piece = d.function?.arguments;
      if (piece) {
        entry.call.function.arguments += piece;
        if (entry === this.open) events.push(this.argumentsDelta(entry, piece));
      }
    }
    return events;
  }

  /** The answer whole, as the terminal event of `end` carries it (wholeResponse). */
  whole(): ReturnType<typeof response> {
    const last = this.end().at(-1) as { response: ReturnType<typeof response> };
    return last.response;
  }

  end(): unknown[] {
    const status = statusOf(this.finish);
    const events: unknown[] = [];
    if (this.items.length === 0 && this.held.length === 0) events.push(...this.add(this.newMessage()));
    // Each held item whole, in the order it began: the answer was cut (if it was) in the last one.
    for (const item of this.held.splice(0)) {
      events.push(...this.add(item));
      if (item.kind === "message") events.push(this.textDelta(item, item.text, item.logprobs));
      else if (item.call.function.arguments)
        events.push(this.argumentsDelta(item, item.call.function.arguments));
    }
    events.push(...this.closeOpen(status));
    events.push(
      this.event(`response.${status}`, {
        response: response(
          this.meta,
          status,
          this.items.map((i) => this.itemOf(i, this.statuses.get(i) ?? status)),
          this.text,
          this.finish,
          usageOf(this.usage),
        ),
      }),
    );
    return events;
  }

  /**
   * An error after the first event: `response.failed`, the response as it stood (its items
   * `incomplete`, `error` set), as OpenAI ends a response that failed, so a client waiting for a
   * terminal response event gets one; then the `error` event, and the stream ends.
   */
  error(body: { error: { message: string; type: string; param: string | null; code: string } }): unknown[] {
    // Every item as it stood: one done as it was said; the open one and those held (never added)
    // `incomplete`, the text so far, a tool call with the arguments so far (they may not parse).
    const failed = {
      ...response(
        this.meta,
        "failed",
        [...this.items, ...this.held].map((i) => this.itemOf(i, this.statuses.get(i) ?? "incomplete")),
        this.text,
        null,
        usageOf(this.usage),
      ),
      error: { code: body.error.code, message: body.error.message },
    };
    return [
      this.event("response.failed", { response: failed }),
      // OpenAI's fields, and the error object as chat's stream carries it: the `openai` clients
      // throw on a data line with `error` (an APIError with its code) but hand OpenAI's bare event
      // over as one more event, which LangChain's Responses stream skipped: the answer cut short
      // ended as if whole.
      this.event("error", {
        code: body.error.code,
        message: body.error.message,
        param: body.error.param,
        error: body.error,
      }),
    ];
  }
}
