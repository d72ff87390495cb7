import type * as webllm from "@mlc-ai/web-llm";
import { callIdsOfAnswer } from "../../protocol/answer-content";
import type { ChunkSink, EngineRequest, EngineResult } from "./engine";
import { consumeChunks, type OpenAiChunkLike } from "./openai-chunks";
import { readsAs } from "./token-text";
import { webLlmRequest } from "./webllm-request";

/** The part of WebLLM's `MLCEngineInterface` one generation uses (the worker engine has it too). */
export interface MlcChat {
  resetChat(): Promise<void>;
  interruptGenerate(): void;
  readonly chat: {
    readonly completions: {
      create(r: webllm.ChatCompletionRequestStreaming): Promise<AsyncIterable<webllm.ChatCompletionChunk>>;
    };
  };
}

/**
 * One generation on a loaded WebLLM engine. The chat is reset first (the next request is usually
 * another requester's: a reused KV cache would leak timing across them and under-count the
 * prompt). The stream is drained to its end even after an interrupt: leaving the loop early
 * locks WebLLM's engine. The caller runs one generation at a time, as WebLLM requires.
 */
export async function runWebLlm(
  engine: MlcChat,
  request: EngineRequest,
  onChunk: ChunkSink,
  signal?: AbortSignal,
): Promise<EngineResult> {
  const params = webLlmRequest(request); // refuses what WebLLM would throw on, before touching it
  const interrupt = () => engine.interruptGenerate();
  signal?.addEventListener("abort", interrupt, { once: true });
  try {
    await engine.resetChat();
    const stream = await engine.chat.completions.create(params);
    const asked = request.logprobs ? (request.top_logprobs ?? 0) : 0;
    const trimmed = params.logprobs ? finiteLogprobs(stream, asked) : stream;
    const chunks = params.tools ? toolCallChunks(trimmed) : (trimmed as AsyncIterable<OpenAiChunkLike>);
    return await consumeChunks(chunks, onChunk, signal);
  } finally {
    signal?.removeEventListener("abort", interrupt);
  }
}

/**
 * OpenAI's logprob for a token the model gives no chance: WebLLM computes logprobs after its
 * softmax at the request's temperature (1e-6 for 0), so at temperature 0 every other top token
 * has probability 0 and logprob -Infinity, which JSON cannot carry (it becomes null and the
 * requester refuses the frame).
 */
export const IMPOSSIBLE_LOGPROB = -9999;

const finite = (logprob: number) => (Number.isFinite(logprob) ? logprob : IMPOSSIBLE_LOGPROB);

/**
 * WebLLM's logprobs as the requester asked for them: the top tokens WebLLM was asked for beyond
 * the requester's `top_logprobs` (webllm-request.ts) left out, -Infinity as `IMPOSSIBLE_LOGPROB`,
 * and a chunk whose logprob tokens do not spell its text as one entry marked `held`.
 */
async function* finiteLogprobs(
  stream: AsyncIterable<webllm.ChatCompletionChunk>,
  asked: number,
): AsyncGenerator<webllm.ChatCompletionChunk> {
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    const content = choice?.logprobs?.content;
    if (!choice || !content) {
      yield chunk;
      continue;
    }
    const logprobs = {
      content: spelledEntries(choice.delta.content ?? "", content).map((l) => ({
        ...l,
        logprob: finite(l.logprob),
        top_logprobs: l.top_logprobs.slice(0, asked).map((t) => ({ ...t, logprob: finite(t.logprob) })),
      })),
    };
    yield { ...chunk, choices: [{ ...choice, logprobs }] };
  }
}

/**
 * While its text ends in an unfinished character (U+FFFD), WebLLM 0.2.86 holds the stream back;
 * the chunk that finally carries the character has only the last token's logprob entry, that
 * token decoded alone (often "\uFFFD"): `makeStreamDeltaChunk` sends
 * `getTokenLogprobArray().slice(-1)`. The other tokens' logprobs are never reported. So the
 * chunk's text becomes one entry that spells it, with the one logprob WebLLM gave (its last
 * token's, never a made-up one), no alternatives (they were the last token's), marked `held`
 * so that audits skip it (protocol/README.md "Audits"); its tokens are billed from the usage
 * (openai-chunks.ts).
 */
function heldEntry(text: string, logprob: number): webllm.ChatCompletionTokenLogprob & { held: true } {
  return { token: text, bytes: [...new TextEncoder().encode(text)], logprob, top_logprobs: [], held: true };
}

/**
 * A chunk's logprob entries spelling its text `text`: as WebLLM gave them when they do; one
 * token whose text its lone decoding left a leading space out of (token-text.ts) spelled as
 * the answer has it; otherwise one held entry (above).
 */
export function spelledEntries(
  text: string,
  content: readonly webllm.ChatCompletionTokenLogprob[],
): webllm.ChatCompletionTokenLogprob[] {
  const last = content.at(-1);
  if (!text || !last || content.map((l) => l.token).join("") === text) return [...content];
  if (content.length === 1 && readsAs(last.token, text))
    return [{ ...last, token: text, bytes: [...new TextEncoder().encode(text)] }];
  return [heldEntry(text, last.logprob)];
}

/**
 * With tools, WebLLM streams the raw function-call JSON as content and only in its last chunk
 * gives the parsed `tool_calls` (without ids). The raw text is held back and counted; the calls go
 * out as one piece carrying those tokens, with ids made here, the answer's own (callIdsOfAnswer).
 * If the answer ends without calls (cut by length, or aborted), the held text goes out as text
 * instead.
 */
export async function* toolCallChunks(
  stream: AsyncIterable<webllm.ChatCompletionChunk>,
): AsyncGenerator<OpenAiChunkLike> {
  let held = "";
  let heldTokens = 0;
  const idOf = callIdsOfAnswer();
  for await (const chunk of stream as AsyncIterable<OpenAiChunkLike>) {
    const choice = chunk.choices?.[0];
    const calls = choice?.delta?.tool_calls;
    if (choice?.delta?.content) {
      held += choice.delta.content;
      heldTokens += Math.max(1, choice.logprobs?.content?.length ?? 1);
    }
    if (calls?.length) {
      yield {
        choices: [
          {
            delta: {
              tool_calls: calls.map((c, i) => ({
                ...c,
                index: c.index ?? i,
                id: c.id ?? idOf(i),
              })),
            },
            finish_reason: choice?.finish_reason ?? "tool_calls",
          },
        ],
        silkTokens: heldTokens,
      };
      held = "";
      heldTokens = 0;
    } else if (choice?.finish_reason) {
      if (held) yield { choices: [{ delta: { content: held } }], silkTokens: heldTokens };
      held = "";
      yield { choices: [{ delta: {}, finish_reason: choice.finish_reason }] };
    }
    if (chunk.usage) yield { usage: chunk.usage };
  }
}
