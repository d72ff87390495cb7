import type { AnswerContent } from "./answer-statement";

/**
 * Checking an answer against a reference (teacher forcing): the reference scores the suspect's
 * own tokens after the same prompt, so the two logprob sequences line up token for token even
 * where float differences between GPUs would make greedy text diverge. The statistic is the root
 * mean square of the per-token differences (each clipped, so one odd token cannot dominate); an
 * answer fails when it exceeds `rmsNats`. protocol/README.md ("Audits") gives the statistics
 * (audit-stats.ts computes them).
 */
export interface AuditTolerance {
  /** An audit fails when the RMS per-token logprob difference exceeds this (nats). */
  readonly rmsNats: number;
  /** The per-token noise an honest provider may show (sd, nats): what the false-positive bound assumes. */
  readonly honestSigmaNats: number;
  /** Fewer tokens than this compared: inconclusive (the bounds need enough tokens). */
  readonly minTokens: number;
  /** Each per-token difference counts at most this much (nats). */
  readonly clipNats: number;
  /**
   * The most of an answer's tokens that may go unchecked, inside entries marked `held` (never
   * compared): past it the answer counts as made-up logprobs. At 1/2 and a challenge of
   * 2·minTokens tokens, a full-length answer is never inconclusive (protocol/README.md).
   */
  readonly maxHeldShare: number;
}

export const DEFAULT_TOLERANCE: AuditTolerance = {
  rmsNats: 0.15,
  honestSigmaNats: 0.05,
  minTokens: 16,
  clipNats: 5,
  maxHeldShare: 0.5,
};

export type AuditResult = "pass" | "fail" | "inconclusive";

export interface AuditVerdict {
  readonly result: AuditResult;
  /** Tokens compared. */
  readonly compared: number;
  /** RMS of the clipped per-token differences (nats). */
  readonly rms: number;
  /** The largest per-token difference (nats, clipped). */
  readonly worst: number;
  /** Entries held back by the engine (a character split across tokens): skipped, not compared. */
  readonly skipped?: number;
  /** Why it failed or was inconclusive, in words. */
  readonly reason?: string;
}

/** The suspect's reported logprobs against the reference's scores of the same tokens. */
export function compareLogprobs(
  claimed: readonly number[],
  reference: readonly number[],
  tol: AuditTolerance = DEFAULT_TOLERANCE,
): AuditVerdict {
  if (claimed.length !== reference.length)
    return {
      result: "fail",
      compared: 0,
      rms: 0,
      worst: 0,
      reason: "the reference scored another number of tokens",
    };
  let sum = 0;
  let worst = 0;
  for (let i = 0; i < claimed.length; i++) {
    const a = claimed[i]!;
    const b = reference[i]!;
    // A logprob that is not a finite number is made up; it counts as far off as any can.
    const d =
      Number.isFinite(a) && Number.isFinite(b) ? Math.min(Math.abs(a - b), tol.clipNats) : tol.clipNats;
    sum += d * d;
    if (d > worst) worst = d;
  }
  const n = claimed.length;
  const rms = n ? Math.sqrt(sum / n) : 0;
  if (n < tol.minTokens)
    return { result: "inconclusive", compared: n, rms, worst, reason: `only ${n} tokens to compare` };
  if (rms > tol.rmsNats)
    return {
      result: "fail",
      compared: n,
      rms,
      worst,
      reason: `logprobs differ from the reference by ${rms.toFixed(3)} nats RMS (tolerance ${tol.rmsNats})`,
    };
  return { result: "pass", compared: n, rms, worst };
}

/**
 * The tokens an answer's logprobs say it is made of, or why they cannot be the answer: missing
 * (the request asked for them), not spelling the text that was sent, marked held where no
 * character was split, or leaving more than `maxHeldShare` of the `generated` tokens (the signed
 * statement's `completion_tokens`) without an entry of their own (made up). `held[i]` marks an
 * entry the engine held back (WebLLM, a character split across tokens): it spells its text but
 * carries only its last token's logprob, so it is never compared.
 */
export function answerTokens(
  content: AnswerContent,
  tol: AuditTolerance = DEFAULT_TOLERANCE,
  generated = 0,
): { tokens: string[]; logprobs: number[]; held: boolean[] } | string {
  const entries = content.logprobs ?? [];
  if (entries.length === 0) return "the answer carries no logprobs";
  const tokens = entries.map((e) => e.token);
  if (tokens.join("") !== content.text) return "the logprobs' tokens do not spell the answer's text";
  const held = entries.map((e) => e.held === true);
  // Only a character of two or more UTF-8 bytes can be split across tokens.
  if (held.some((h, i) => h && ![...tokens[i]!].some((c) => c.codePointAt(0)! > 0x7f)))
    return "a logprob entry is marked held where no character was split";
  if (held.includes(true)) {
    const total = Math.max(generated, entries.length);
    const unchecked = total - held.filter((h) => !h).length;
    if (unchecked > tol.maxHeldShare * total)
      return `held-back entries leave ${unchecked} of ${total} tokens unchecked (at most ${tol.maxHeldShare * 100}% may be)`;
  }
  return { tokens, logprobs: entries.map((e) => e.logprob), held };
}

/**
 * The whole check of one answer: its tokens spell its text, and their logprobs match the
 * reference's, entry for entry, held-back entries skipped and counted. A reference that scored
 * only a prefix of the tokens (one that follows its own greedy path, web/engines/webllm-score.ts)
 * is compared over that prefix. `generated`: the signed statement's `completion_tokens`.
 */
export function judgeAnswer(
  content: AnswerContent,
  referenceScores: readonly number[],
  tol: AuditTolerance = DEFAULT_TOLERANCE,
  generated = 0,
): AuditVerdict {
  const parts = answerTokens(content, tol, generated);
  if (typeof parts === "string") return { result: "fail", compared: 0, rms: 0, worst: 0, reason: parts };
  if (referenceScores.length > parts.logprobs.length)
    return compareLogprobs(parts.logprobs, referenceScores, tol);
  const claimed: number[] = [];
  const reference: number[] = [];
  referenceScores.forEach((score, i) => {
    if (parts.held[i]) return;
    claimed.push(parts.logprobs[i]!);
    reference.push(score);
  });
  const skipped = referenceScores.length - claimed.length;
  const verdict = compareLogprobs(claimed, reference, tol);
  return skipped ? { ...verdict, skipped } : verdict;
}
