import { completionBytesOf, maxCompletionTokens } from "../../protocol/accounting";
import type { LogprobEntry, ToolCallDelta } from "../../protocol/schemas/chat";
import { chatOptionsOf } from "../../protocol/schemas/session";
import type { ChunkSink, EngineRequest, EngineResult, FinishReason } from "./engine";

/**
 * What WebLLM's engine and OpenAI-compatible servers have in common: the request parameters they
 * take and the chunk stream they return. Both engines go through here, so they count tokens and
 * read usage the same way.
 */
export interface OpenAiChunkLike {
  choices?: {
    delta?: { content?: string | null; tool_calls?: ToolCallDelta[] | null };
    finish_reason?: string | null;
    logprobs?: { content?: LogprobEntry[] | null } | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  /** Set by an adapter that merged several generated chunks into this one (see webllm-run.ts). */
  silkTokens?: number;
}

/**
 * The request as an OpenAI-compatible server takes it: every field passed through as sent, but
 * `developer` messages as `system` (what they mean to every open model; not every server knows
 * the newer role).
 */
export function openAiParams(r: EngineRequest) {
  return {
    ...chatOptionsOf(r),
    messages: r.messages.map((m) => (m.role === "developer" ? { ...m, role: "system" as const } : { ...m })),
    stream: true as const,
    stream_options: { include_usage: true },
  };
}

const FINISH: ReadonlySet<string> = new Set(["stop", "length", "tool_calls", "content_filter"]);

/**
 * Reads a chunk stream to its end: each chunk with text or a tool-call piece is handed to
 * `onChunk` (and awaited, so a paused consumer pauses the stream); usage comes in the last chunk.
 * A chunk counts as one token, or as many as the logprobs it carries (one entry per token), never
 * more than the answer's text so far can hold (`maxCompletionTokens`), and never 0 when it has a
 * byte of text or tool call. Tokens the usage counts
 * beyond those are then billed as pieces without text (`unstreamedPieces`). After an abort the stream is still drained, without handing on.
 */
export async function consumeChunks(
  chunks: AsyncIterable<OpenAiChunkLike>,
  onChunk: ChunkSink,
  signal: AbortSignal | undefined,
): Promise<EngineResult> {
  let completion = 0;
  let bytes = 0;
  let generated: number | undefined;
  let prompt = 0;
  let finish: FinishReason = "stop";
  for await (const chunk of chunks) {
    const choice = chunk.choices?.[0];
    const text = choice?.delta?.content ?? "";
    const toolCalls = choice?.delta?.tool_calls?.length
      ? choice.delta.tool_calls.map(toolCallDelta)
      : undefined;
    const logprobs = choice?.logprobs?.content ?? undefined;
    if ((text || toolCalls) && !signal?.aborted) {
      const pieceBytes = completionBytesOf(text, toolCalls);
      // A piece with any bytes is at least one token (the requester refuses it as UNDER_REPORT
      // otherwise): a merged chunk's count (silkTokens) of 0 (a tool call no text came before) too.
      const claimed = Math.max(
        pieceBytes > 0 ? 1 : 0,
        chunk.silkTokens ?? Math.max(1, logprobs?.length ?? 1),
      );
      bytes += pieceBytes;
      // Never past what the requester can check on the whole answer, or it drops the provider; the
      // piece's own bytes always leave room for its one token.
      const tokens = Math.max(0, Math.min(claimed, maxCompletionTokens(bytes) - completion));
      completion += tokens;
      await onChunk({
        text,
        tokens,
        ...(toolCalls && { toolCalls }),
        ...(logprobs?.length && { logprobs }),
      });
    }
    if (choice?.finish_reason && FINISH.has(choice.finish_reason))
      finish = choice.finish_reason as FinishReason;
    if (chunk.usage?.prompt_tokens !== undefined) prompt = chunk.usage.prompt_tokens;
    if (chunk.usage?.completion_tokens !== undefined) generated = chunk.usage.completion_tokens;
  }
  for (let n = unstreamedPieces(generated, completion, bytes); n > 0 && !signal?.aborted; n--) {
    completion += 1;
    await onChunk({ text: "", tokens: 1 });
  }
  return {
    finishReason: signal?.aborted ? "abort" : finish,
    promptTokens: prompt,
    completionTokens: completion,
  };
}

/**
 * How many one-token pieces without text bill what the engine generated but never streamed: the
 * stop token, and the tokens of a character split across tokens, which WebLLM holds back and
 * streams as one chunk with the last one's logprob (webllm-run.ts). Never more than the text's
 * bytes could hold (a token carries at least one byte of it), plus a stop token and the three
 * bytes of a character left unfinished when the answer was cut.
 */
export function unstreamedPieces(generated: number | undefined, streamed: number, bytes: number): number {
  if (generated === undefined || !Number.isSafeInteger(generated)) return 0;
  return Math.max(0, Math.min(generated, maxCompletionTokens(bytes)) - streamed);
}

/** Only the fields of a tool-call piece the session carries (servers add their own extras). */
function toolCallDelta(d: ToolCallDelta): ToolCallDelta {
  return {
    index: d.index ?? 0,
    ...(d.id && { id: d.id }),
    ...(d.type && { type: d.type }),
    ...(d.function && {
      function: {
        ...(d.function.name && { name: d.function.name }),
        ...(d.function.arguments && { arguments: d.function.arguments }),
      },
    }),
  };
}
