import type { EngineRequest, ScoreResult } from "./engine";
import { EngineError } from "./engine";
import { readsAs } from "./token-text";
import { webLlmRequest } from "./webllm-request";
import { type MlcChat, spelledEntries } from "./webllm-run";

/** The most top tokens WebLLM gives per step (its `top_logprobs` range is 0 to 5). */
export const WEBLLM_TOP_LOGPROBS = 5;

/**
 * Scoring given tokens on WebLLM (feature `scoring`, for audits) without forcing them: what a
 * provider's engine does (forcing needs a processor that slows every generation,
 * webllm-forcing-channel.ts), and what a reference does when forcing cannot be used
 * (webllm-forced-score.ts). The model regenerates greedily with its top 5 tokens at each step,
 * and the given tokens are scored where that path and theirs share the context:
 * - while the greedy token is the given one, its logprob is the given token's score, exact;
 * - where they first differ, the given token's logprob is read from the step's top 5 if it is
 *   there (exact too), and scoring stops: past that token the two contexts differ;
 * - a given token outside the top 5 at that step is not scored, nor one whose logprob is not
 *   finite (a token WebLLM gives probability 0, as it does every non-greedy token at temperature
 *   0, which webLlmRequest avoids): that says only that the paths parted, as float differences
 *   between two honest GPUs can make them.
 * The result is the scores of a prefix of the tokens (possibly empty), what the audit compares
 * (protocol/README.md "Audits": fewer than `minTokens` is inconclusive).
 */
export async function scoreWebLlm(
  engine: MlcChat,
  request: EngineRequest,
  tokens: readonly string[],
  signal?: AbortSignal,
): Promise<ScoreResult> {
  const { score: _score, ...rest } = request;
  const params = webLlmRequest({
    ...rest,
    temperature: 0,
    logprobs: true,
    top_logprobs: WEBLLM_TOP_LOGPROBS,
    max_tokens: tokens.length,
  });
  const interrupt = () => engine.interruptGenerate();
  signal?.addEventListener("abort", interrupt, { once: true });
  const path: GreedyToken[] = [];
  let promptTokens = 0;
  try {
    await engine.resetChat();
    // Read to its end: leaving WebLLM's stream early locks the engine.
    for await (const chunk of await engine.chat.completions.create(params)) {
      const choice = chunk.choices[0];
      path.push(...spelledEntries(choice?.delta.content ?? "", choice?.logprobs?.content ?? []));
      if (chunk.usage) promptTokens = chunk.usage.prompt_tokens;
    }
  } finally {
    signal?.removeEventListener("abort", interrupt);
  }
  if (signal?.aborted) throw new EngineError("backend", "score: aborted");
  return { logprobs: scoresAlong(path, tokens), promptTokens, method: "greedy-path" };
}

/** One step of the greedy path, as WebLLM's logprobs give it. */
interface GreedyToken {
  readonly token: string;
  /** Several tokens WebLLM streamed as one (webllm-run.ts): the paths cannot be lined up past it. */
  readonly held?: boolean;
  readonly logprob: number;
  readonly top_logprobs: readonly { readonly token: string; readonly logprob: number }[];
}

/** The given tokens' scores along a greedy path (pure; see scoreWebLlm). */
export function scoresAlong(path: readonly GreedyToken[], tokens: readonly string[]): number[] {
  const scores: number[] = [];
  for (const [i, token] of tokens.entries()) {
    const step = path[i];
    if (!step || step.held) break;
    if (step.token === token) {
      scores.push(step.logprob);
      continue;
    }
    // Alternatives are decoded alone, so a SentencePiece model's lack their leading space.
    const alternative =
      step.top_logprobs.find((t) => t.token === token) ??
      step.top_logprobs.find((t) => readsAs(t.token, token));
    if (alternative && Number.isFinite(alternative.logprob)) scores.push(alternative.logprob);
    break;
  }
  return scores;
}
