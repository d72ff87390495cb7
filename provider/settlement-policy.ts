/**
 * When to claim, as pure functions: no chain, no clock, no store. Claims are batched (one per
 * session end, or when unclaimed value passes a threshold), never one per token; a claim below
 * the escrow's minimum is never sent, since the escrow would refuse it.
 */
export interface SettlementPolicy {
  /** Claim while a session runs once this much nanoTON is unclaimed on one stream. */
  readonly thresholdNano: bigint;
  /** The escrow's minimum claim (EscrowParams.MIN_CLAIM). */
  readonly minClaimNano: bigint;
  /** Attempts per claim before giving up until the next trigger. */
  readonly maxAttempts: number;
  /** First retry delay; doubles after each failure. */
  readonly retryBaseMs: number;
}

export type ClaimDecision = "claim" | "wait" | "nothing";

export function decideClaim(
  amount: bigint,
  claimed: bigint,
  sessionEnded: boolean,
  policy: SettlementPolicy,
): ClaimDecision {
  const unclaimed = amount - claimed;
  if (unclaimed <= 0n) return "nothing";
  if (unclaimed < policy.minClaimNano) return "wait";
  if (sessionEnded || unclaimed >= policy.thresholdNano) return "claim";
  return "wait";
}

export function retryDelayMs(attempt: number, policy: SettlementPolicy): number {
  return policy.retryBaseMs * 2 ** Math.max(0, attempt - 1);
}

/** Exit codes after which retrying the same receipt cannot succeed. */
export type RefusalKind = "paid" | "invalid" | "underfunded" | "too-costly" | "transient";

export function classifyRefusal(
  exitCode: number | undefined,
  codes: Readonly<Record<string, number>>,
): RefusalKind {
  if (exitCode === undefined) return "transient";
  if (exitCode === codes.NothingNew) return "paid";
  if (exitCode === codes.InsufficientBalance) return "underfunded";
  if (exitCode === codes.ClaimTooSmall) return "transient";
  // -14 / 13: out of the external gas credit (a very large escrow); an internal claim works.
  if (exitCode === -14 || exitCode === 13) return "too-costly";
  return "invalid";
}
