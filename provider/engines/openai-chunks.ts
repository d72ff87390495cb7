import type { ChunkSink, EngineRequest, EngineResult } from "./engine";

/**
 * What WebLLM's engine and OpenAI-compatible servers have in common: the request parameters they
 * take and the chunk stream they return. Both engines go through here, so they count tokens and
 * read usage the same way.
 */
export interface OpenAiChunkLike {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

export function openAiParams(r: EngineRequest) {
  return {
    messages: r.messages.map((m) => ({ role: m.role, content: m.content })),
    stream: true as const,
    stream_options: { include_usage: true },
    ...(r.max_tokens !== undefined && { max_tokens: r.max_tokens }),
    ...(r.temperature !== undefined && { temperature: r.temperature }),
    ...(r.top_p !== undefined && { top_p: r.top_p }),
    ...(r.seed !== undefined && { seed: r.seed }),
    ...(r.stop !== undefined && { stop: [...r.stop] }),
  };
}

/**
 * Reads a chunk stream to its end: each chunk with text is one token handed to `onChunk` (and
 * awaited, so a paused consumer pauses the stream); usage comes in the last chunk. After an
 * abort the stream is still drained, without handing text on.
 */
export async function consumeChunks(
  chunks: AsyncIterable<OpenAiChunkLike>,
  onChunk: ChunkSink,
  signal: AbortSignal | undefined,
): Promise<EngineResult> {
  let completion = 0;
  let prompt = 0;
  let finish: EngineResult["finishReason"] = "stop";
  for await (const chunk of chunks) {
    const choice = chunk.choices?.[0];
    const text = choice?.delta?.content;
    if (text && !signal?.aborted) {
      completion++;
      await onChunk({ text, tokens: 1 });
    }
    if (choice?.finish_reason === "length") finish = "length";
    if (chunk.usage?.prompt_tokens !== undefined) prompt = chunk.usage.prompt_tokens;
  }
  return {
    finishReason: signal?.aborted ? "abort" : finish,
    promptTokens: prompt,
    completionTokens: completion,
  };
}
