import { callIdsOfAnswer, type ToolCallDelta } from "../../protocol";
import type { ChatCompletion, ChatCompletionChunk, CompletionUsage } from "./openai-shapes";
import type { AnswerDelta, RequestResult } from "./requester-session";

export type RunResult = RequestResult & { provider: string; failovers: number };
/** A request under way: `onDelta` is told each verified piece and the provider it came from. */
type Run = (onDelta: (d: AnswerDelta, provider: string) => void) => Promise<RunResult>;

let counter = 0;
const newId = () => `chatcmpl-silk-${Date.now().toString(36)}-${(++counter).toString(36)}`;

export function usageOf(r: RunResult): CompletionUsage {
  return {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
    silk: {
      cost_nanoton: r.cost.toString(),
      provider: r.provider,
      failovers: r.failovers,
      ...(r.signedAnswer && { signed_answer: r.signedAnswer }),
    },
  };
}

/**
 * OpenAI's "backend configuration" marker, which programs compare with a `seed` to know whether
 * answers may differ: here the provider that answered (its identity key's first 8 bytes) serving
 * the model. An answer continued on another provider had two, so it has none.
 */
export function fingerprintOf(r: RunResult): { system_fingerprint?: string } {
  return r.failovers === 0 ? fingerprintOfProvider(r.provider) : {};
}

/** The fingerprint of one provider (its identity key's first 8 bytes): a stream chunk names the one that sent it. */
const fingerprintOfProvider = (provider: string) => ({ system_fingerprint: `fp_${provider.slice(0, 16)}` });

export function completionFromResult(model: string, r: RunResult): ChatCompletion {
  // A call the provider named none is `call_<index>` in the signed statement (AnswerBuilder);
  // the program is shown an id of this answer's own (callIdsOfAnswer says why).
  const unnamed = new Set(r.unnamedCalls ?? []);
  const idOf = callIdsOfAnswer();
  const calls = r.toolCalls.map((c, i) => (unnamed.has(i) ? { ...c, id: idOf(i) } : c)).filter(Boolean);
  return {
    id: newId(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          // OpenAI's answer that only calls tools has no content.
          content: calls.length > 0 && !r.text ? null : r.text,
          refusal: null,
          ...(calls.length > 0 && { tool_calls: calls }),
        },
        finish_reason: r.finishReason,
        logprobs: r.logprobs ? { content: [...r.logprobs] } : null,
      },
    ],
    ...fingerprintOf(r),
    usage: usageOf(r),
  };
}

/**
 * Turns a running request into OpenAI stream chunks: the role first, then a chunk per verified
 * piece (text, tool-call pieces, their logprobs), then the finish reason, then (with
 * include_usage, as OpenAI and WebLLM do) a last chunk with empty choices and the usage. Every
 * chunk carries `system_fingerprint`, as OpenAI's do: the provider whose piece it is (after a
 * failover, the one that continued), so the role chunk waits for the first piece.
 *
 * It resolves only at the answer's first event (its first piece, or its end), as OpenAI's own
 * client resolves at the response's headers: a request nobody takes (no model, price too low,
 * escrow refused, all busy) rejects here, so a gateway can still answer with its status. An
 * error after that is thrown from the iterator.
 *
 * Leaving the loop early (`break`, a throw) aborts the request through `controller`, as OpenAI's
 * own Stream does: the provider stops generating and nothing more is signed for.
 */
const ROLE = { role: "assistant", content: "" } as const;

export function streamChunks(
  model: string,
  run: Run,
  includeUsage: boolean,
  controller: AbortController,
): Promise<AsyncIterable<ChatCompletionChunk> & { readonly controller: AbortController }> {
  const id = newId();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    provider: string,
    delta: ChatCompletionChunk["choices"][0]["delta"],
    finish: ChatCompletionChunk["choices"][0]["finish_reason"] = null,
    logprobs: ChatCompletionChunk["choices"][0]["logprobs"] = null,
  ): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs }],
    ...fingerprintOfProvider(provider),
    // OpenAI's own stream, asked for usage, carries `usage: null` on every chunk but the last.
    ...(includeUsage && { usage: null }),
  });
  const queue: ChatCompletionChunk[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let failure: unknown;
  let started: (() => void) | undefined;
  let refused: ((err: unknown) => void) | undefined;
  const first = new Promise<void>((resolve, reject) => {
    started = resolve;
    refused = reject;
  });
  // A call's first piece as the whole answer has the call (mergeToolCall): its id (one of this
  // answer's own when the provider gave none), `type`, name and arguments, so a client's
  // accumulation of the chunks (the openai package's stream helper needs all four) is the
  // non-streamed answer's.
  const begun = new Set<number>();
  const idOf = callIdsOfAnswer();
  const callPiece = (d: ToolCallDelta): ToolCallDelta => {
    if (begun.has(d.index)) return d;
    begun.add(d.index);
    return {
      index: d.index,
      id: d.id ?? idOf(d.index),
      type: "function",
      function: { name: d.function?.name ?? "", arguments: d.function?.arguments ?? "" },
    };
  };
  let opened = false;
  const push = (c: ChatCompletionChunk) => {
    // The role chunk, from the provider of the first piece (or of an answer with none).
    if (!opened)
      queue.push({ ...c, choices: [{ index: 0, delta: ROLE, finish_reason: null, logprobs: null }] });
    opened = true;
    queue.push(c);
    started?.();
    wake?.();
  };
  run((d, provider) =>
    push(
      chunk(
        provider,
        {
          ...((d.text || !d.toolCalls) && { content: d.text }),
          ...(d.toolCalls && { tool_calls: d.toolCalls.map(callPiece) }),
        },
        null,
        d.logprobs ? { content: [...d.logprobs] } : null,
      ),
    ),
  ).then(
    (r) => {
      push(chunk(r.provider, {}, r.finishReason));
      if (includeUsage) push({ ...chunk(r.provider, {}), choices: [], usage: usageOf(r) });
      done = true;
      wake?.();
    },
    (err) => {
      failure = err ?? new Error("request failed");
      done = true;
      refused?.(failure);
      wake?.();
    },
  );
  // Once the answer has started, a later failure belongs to the iterator, not to this promise.
  return first.then(() => ({
    controller,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (done) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        if (!done) controller.abort();
      }
    },
  }));
}
