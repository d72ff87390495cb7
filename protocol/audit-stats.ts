import { type AuditTolerance, DEFAULT_TOLERANCE } from "./audit-check";

/**
 * The statistics behind audits (protocol/README.md, "Audits"). Per-token differences between an
 * honest provider's logprobs and the reference are modelled as independent normal noise with sd
 * at most `honestSigmaNats`; then n·MSE/σ² is χ² with n degrees of freedom, and Chernoff's bound
 * on its tails, P(χ²ₙ ≥ kn) ≤ (k·e^(1−k))^(n/2) for k > 1 (and ≤ k for k < 1), bounds both errors.
 */

/** The default share of requests an auditor sends as challenges. */
export const DEFAULT_AUDIT_RATE = 0.05;

function chernoff(k: number, n: number): number {
  return Math.min(1, (k * Math.exp(1 - k)) ** (n / 2));
}

/** Upper bound on the chance an honest answer of `n` compared tokens fails an audit. */
export function falsePositiveBound(n: number, tol: AuditTolerance = DEFAULT_TOLERANCE): number {
  const k = (tol.rmsNats / tol.honestSigmaNats) ** 2;
  return k > 1 ? chernoff(k, n) : 1;
}

/**
 * Upper bound on the chance one audited answer from a cheat passes, when its per-token
 * differences from the reference have sd `cheatSigmaNats` (another model: nats; another
 * quantisation: tenths of a nat).
 */
export function missBound(
  n: number,
  cheatSigmaNats: number,
  tol: AuditTolerance = DEFAULT_TOLERANCE,
): number {
  const k = (tol.rmsNats / cheatSigmaNats) ** 2;
  return k < 1 ? chernoff(k, n) : 1;
}

/**
 * How many audits catch, with probability `confidence`, a provider that cheats on a fraction
 * `f` of requests, each cheating answer caught with probability `q`: audits look like ordinary
 * requests, so each is a cheating one with probability f, and ⌈ln(1−confidence) / ln(1−f·q)⌉.
 */
export function auditsToCatch(f: number, q: number, confidence: number): number {
  const p = f * q;
  if (p <= 0) return Number.POSITIVE_INFINITY;
  if (p >= 1) return 1;
  return Math.ceil(Math.log(1 - confidence) / Math.log(1 - p));
}

/** Requests an auditor sends before that many audits are made, at `rate`. */
export function requestsToCatch(f: number, q: number, confidence: number, rate = DEFAULT_AUDIT_RATE): number {
  return Math.ceil(auditsToCatch(f, q, confidence) / rate);
}
