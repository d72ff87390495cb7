import type { ChatCompletion, ChatCompletionChunk, CompletionUsage } from "../sdk/openai-shapes";

/**
 * A chat answer in the Responses API's shapes: the whole response object, or its stream of
 * events (`response.created`, the message item and its text part, `response.output_text.delta`
 * per chunk, then the closing events and `response.completed` with usage). Silk's `usage.silk`
 * (cost, provider, signed answer) rides along as on chat.
 */
export interface ResponseMeta {
  readonly id: string;
  readonly model: string;
  readonly createdAt: number;
}

type Finish = ChatCompletion["choices"][number]["finish_reason"] | null | undefined;

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

const messageId = (meta: ResponseMeta) => `msg_${meta.id.slice("resp_".length)}`;

function item(meta: ResponseMeta, text: string, status: "in_progress" | "completed" | "incomplete") {
  return {
    type: "message",
    id: messageId(meta),
    status,
    role: "assistant",
    content: status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

function response(
  meta: ResponseMeta,
  status: string,
  text: string | undefined,
  finish: Finish,
  usage: unknown,
) {
  const incomplete = finish === "length";
  return {
    id: meta.id,
    object: "response",
    created_at: meta.createdAt,
    status,
    model: meta.model,
    output: text === undefined ? [] : [item(meta, text, incomplete ? "incomplete" : "completed")],
    output_text: text ?? "",
    error: null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    usage,
    parallel_tool_calls: false,
    tool_choice: "none",
    tools: [],
    store: false,
    metadata: {},
  };
}

export function toResponse(meta: ResponseMeta, done: ChatCompletion) {
  const choice = done.choices[0];
  const finish = choice?.finish_reason;
  return response(
    meta,
    finish === "length" ? "incomplete" : "completed",
    choice?.message.content ?? "",
    finish,
    usageOf(done.usage),
  );
}

/** The events of one streamed answer, fed chunk by chunk; `end` gives the closing events. */
export class ResponseEvents {
  private seq = 0;
  private text = "";
  private finish: Finish;
  private usage: CompletionUsage | null | undefined;

  constructor(private readonly meta: ResponseMeta) {}

  private event(type: string, body: Record<string, unknown>) {
    return { type, sequence_number: this.seq++, ...body };
  }

  start(): unknown[] {
    const ids = { item_id: messageId(this.meta), output_index: 0, content_index: 0 };
    return [
      this.event("response.created", { response: response(this.meta, "in_progress", undefined, null, null) }),
      this.event("response.output_item.added", { output_index: 0, item: item(this.meta, "", "in_progress") }),
      this.event("response.content_part.added", {
        ...ids,
        part: { type: "output_text", text: "", annotations: [], logprobs: [] },
      }),
    ];
  }

  chunk(c: ChatCompletionChunk): unknown[] {
    if (c.usage) this.usage = c.usage;
    const choice = c.choices[0];
    if (choice?.finish_reason) this.finish = choice.finish_reason;
    const delta = choice?.delta.content;
    if (!delta) return [];
    this.text += delta;
    return [
      this.event("response.output_text.delta", {
        item_id: messageId(this.meta),
        output_index: 0,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    ];
  }

  end(): unknown[] {
    const ids = { item_id: messageId(this.meta), output_index: 0, content_index: 0 };
    const incomplete = this.finish === "length";
    const status = incomplete ? "incomplete" : "completed";
    return [
      this.event("response.output_text.done", { ...ids, text: this.text, logprobs: [] }),
      this.event("response.content_part.done", {
        ...ids,
        part: { type: "output_text", text: this.text, annotations: [], logprobs: [] },
      }),
      this.event("response.output_item.done", { output_index: 0, item: item(this.meta, this.text, status) }),
      this.event(`response.${status}`, {
        response: response(this.meta, status, this.text, this.finish, usageOf(this.usage)),
      }),
    ];
  }

  /** An error after the first event: OpenAI's `error` event, then the stream ends. */
  error(body: { error: { message: string; type: string; param: string | null; code: string } }): unknown {
    return this.event("error", {
      code: body.error.code,
      message: body.error.message,
      param: body.error.param,
    });
  }
}
