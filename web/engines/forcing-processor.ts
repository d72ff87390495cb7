import type { LogitProcessor } from "@mlc-ai/web-llm";

/**
 * Teacher forcing on WebLLM (audits, feature `scoring`): a `LogitProcessor` armed with the token
 * ids of the answer to score. WebLLM calls it in the engine's worker at every step, after the
 * model's forward pass and before `logit_bias`, penalties and the sampler
 * (`LLMChatPipeline.sampleFromRawLogits` in WebLLM 0.2.86):
 * - `processLogits` reads the raw logits over the whole vocabulary, keeps the log-softmax of the
 *   step's target (the true teacher-forced logprob at temperature 1, computed here in float64)
 *   and returns the logits masked so that only the target can be sampled;
 * - `processSampledToken` confirms WebLLM committed the target; a token other than the target
 *   (something after the processor changed the choice) stops the scoring there, so only a prefix
 *   whose context is the answer's own is ever reported;
 * - `resetState` (WebLLM's `resetChat`, which `chat.completions.create` itself calls before the
 *   prefill) restarts at the first target and keeps the targets: they are dropped by `take`.
 * Unarmed, it returns the logits untouched. Pure: no WebLLM code runs here.
 */
export class ForcingProcessor implements LogitProcessor {
  private targets: Int32Array | undefined;
  private step = 0;
  private pending = Number.NaN;
  private scores: number[] = [];
  private stopped = false;

  /** Arms the processor for the next generation: these token ids, in order. */
  arm(ids: ArrayLike<number>): void {
    this.targets = Int32Array.from(ids);
    this.resetState();
  }

  /** The forced logprobs recorded since `arm`, and disarms: the next generation runs untouched. */
  take(): number[] {
    const scores = this.scores;
    this.targets = undefined;
    this.resetState();
    return scores;
  }

  get armed(): boolean {
    return this.targets !== undefined;
  }

  processLogits = (logits: Float32Array): Float32Array => {
    const target = this.targets?.[this.step];
    if (target === undefined || this.stopped) return logits;
    const logprob = target < logits.length ? logSoftmaxAt(logits, target) : Number.NaN;
    if (!Number.isFinite(logprob)) {
      this.stopped = true; // an id outside the vocabulary, or logits that are not numbers
      return logits;
    }
    this.pending = logprob;
    logits.fill(MASKED);
    logits[target] = 0;
    return logits;
  };

  processSampledToken = (token: number): void => {
    const target = this.targets?.[this.step];
    if (target === undefined || this.stopped) return;
    if (token !== target) {
      this.stopped = true;
      return;
    }
    this.scores.push(this.pending);
    this.step++;
  };

  resetState = (): void => {
    this.step = 0;
    this.scores = [];
    this.pending = Number.NaN;
    this.stopped = false;
  };
}

/**
 * What every other token's logit becomes on a forced step: finite, so WebLLM's penalties and
 * softmax (at any temperature, down to its 1e-6) stay numbers, and far enough below the target's
 * 0 that the target takes all the probability.
 */
export const MASKED = -1e9;

/** log-softmax(logits)[target], in float64 with the maximum subtracted first. */
export function logSoftmaxAt(logits: ArrayLike<number>, target: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[target]! - max - Math.log(sum);
}
