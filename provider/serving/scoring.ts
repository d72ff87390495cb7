import {
  type ChunkSink,
  type Engine,
  EngineError,
  type EngineRequest,
  type EngineResult,
} from "../../web/engines/engine";
import { fromEngine } from "./failure";

/**
 * Runs a request on the engine: a generation, or (a request with `score`, from an auditor) the
 * teacher-forced logprobs of the given tokens, streamed back as an answer made of exactly those
 * tokens (those of the prefix the engine scored), so credit, receipts and the signed statement
 * work as for any answer. A request with `score_method: "teacher-forcing"` (feature
 * `forced_scoring`) is refused when the engine scored along its greedy path instead: the signed
 * answer states the method (it is in the request hash), so it must be true.
 */
export async function runOnEngine(
  engine: Engine,
  request: EngineRequest,
  onChunk: ChunkSink,
  signal: AbortSignal,
): Promise<EngineResult> {
  // What `onChunk` throws (the session closed, …) is ours, not the engine's: passed on as it is.
  const ours = new WeakSet<object>();
  const sink: ChunkSink = async (chunk) => {
    try {
      await onChunk(chunk);
    } catch (err) {
      if (typeof err === "object" && err !== null) ours.add(err);
      throw err;
    }
  };
  try {
    return await generateOrScore(engine, request, sink, signal);
  } catch (err) {
    throw typeof err === "object" && err !== null && ours.has(err) ? err : fromEngine(err);
  }
}

async function generateOrScore(
  engine: Engine,
  request: EngineRequest,
  onChunk: ChunkSink,
  signal: AbortSignal,
): Promise<EngineResult> {
  const tokens = request.score;
  if (!tokens) {
    if (request.score_method) throw new EngineError("unsupported", "score_method: it needs score");
    return engine.generate(request, onChunk, signal);
  }
  if (!engine.score) throw new EngineError("unsupported", "score: this engine cannot score tokens");
  const scored = await engine.score(request, tokens, signal);
  if (request.score_method === "teacher-forcing" && scored.method === "greedy-path")
    throw new EngineError(
      "unsupported",
      `score_method: the tokens could not be forced here (${scored.fallback ?? "no reason given"})`,
    );
  if (scored.logprobs.length > tokens.length)
    throw new EngineError("backend", "score: the engine scored more tokens than given");
  let completionTokens = 0;
  for (const [i, token] of tokens.slice(0, scored.logprobs.length).entries()) {
    if (signal.aborted) return { finishReason: "abort", promptTokens: scored.promptTokens, completionTokens };
    const logprob = scored.logprobs[i]!;
    completionTokens++;
    await onChunk({
      text: token,
      tokens: 1,
      ...(request.logprobs && { logprobs: [{ token, logprob, top_logprobs: [] }] }),
    });
  }
  return { finishReason: "stop", promptTokens: scored.promptTokens, completionTokens };
}
