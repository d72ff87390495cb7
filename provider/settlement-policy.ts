import { BPS } from "../protocol/pricing";

/**
 * When to claim, as pure functions: no chain, no clock, no store. A claim costs its fee out of the
 * amount claimed, so a stream is claimed when the fee is at most a target share of what it pays
 * (1% by default), or at once when the money is at risk: the escrow is closing, the stream's key
 * was revoked (its receipts are paid only until a deadline, as a closing escrow's are), its
 * balance is near what it owes this provider, the stream has spent half of what it is trusted for
 * beyond its reserve (its requester would soon be refused), or a receipt has been held longer
 * than the operator allows. Never below the escrow's minimum claim (it would refuse it), never for
 * less than the fee.
 */
export interface SettlementPolicy {
  /** Claim once the expected fee is at most this share of the amount, in basis points (100 = 1%; BPS is 100%). */
  readonly feeShareBps: number;
  /** Claim what has been held unclaimed this long (ms), whatever the fee. */
  readonly maxHoldMs: number;
  /**
   * An escrow is at risk when what it can pay, less everything it owes this provider, falls below
   * this (nanoTON). The runtime raises it to its credit window's worth.
   */
  readonly riskHeadroomNano: bigint;
  /** The escrow's minimum claim (EscrowParams.MIN_CLAIM). */
  readonly minClaimNano: bigint;
  /** Attempts per claim before giving up until the next trigger. */
  readonly maxAttempts: number;
  /** First retry delay; doubles after each failure. */
  readonly retryBaseMs: number;
}

/** What is known of one stream when deciding. */
export interface ClaimSituation {
  /** Held and not yet paid: the claimable receipt's amount less what the escrow paid. */
  readonly unclaimed: bigint;
  /** The expected fee of claiming now; undefined when the chain's prices could not be read. */
  readonly fee: bigint | undefined;
  /** Since when (ms) something has been held unclaimed. */
  readonly heldSince: number | undefined;
  readonly now: number;
  /** The escrow is closing: the money goes after its close delay. */
  readonly closing: boolean;
  /** The stream's key was revoked: its receipts are refused after one close delay. */
  readonly keyRevoked?: boolean;
  /** The escrow's dictionary is crowded along the stream: a few more streams and no claim fits. */
  readonly crowding?: boolean;
  /** What the escrow can pay less all it owes this provider, when it was read. */
  readonly headroom: bigint | undefined;
  /** The owner pressed "Claim now". */
  readonly asked?: boolean;
  /**
   * The stream is owed half or more of what the free balance is trusted for beyond its reserve:
   * unclaimed, its requester (raising no reserve) is soon refused until it is.
   */
  readonly trustSpent?: boolean;
}

export type ClaimReason =
  | "asked"
  | "escrow-closing"
  | "key-revoked"
  | "escrow-crowding"
  | "trust-spent"
  | "escrow-low"
  | "held-too-long"
  | "worth-it";
export type WaitReason = "below-minimum" | "fee-above-target" | "fee-unknown" | "fee-exceeds-amount";

export type ClaimDecision =
  | { readonly action: "nothing" }
  | { readonly action: "claim"; readonly reason: ClaimReason }
  | {
      readonly action: "wait";
      readonly reason: WaitReason;
      /** The amount at which the fee share is met (fee-above-target). */
      readonly worthAt?: bigint;
      /** When it is claimed anyway for having been held too long (ms). */
      readonly deadline?: number;
    };

export function decideClaim(s: ClaimSituation, policy: SettlementPolicy): ClaimDecision {
  if (s.unclaimed <= 0n) return { action: "nothing" };
  const deadline = s.heldSince === undefined ? undefined : s.heldSince + policy.maxHoldMs;
  const wait = (reason: WaitReason, extra: { worthAt?: bigint } = {}): ClaimDecision => ({
    action: "wait",
    reason,
    ...extra,
    ...(deadline !== undefined ? { deadline } : {}),
  });
  if (s.unclaimed < policy.minClaimNano) return wait("below-minimum");
  if (s.fee !== undefined && s.fee >= s.unclaimed) return wait("fee-exceeds-amount");
  if (s.asked) return { action: "claim", reason: "asked" };
  if (s.closing) return { action: "claim", reason: "escrow-closing" };
  if (s.keyRevoked) return { action: "claim", reason: "key-revoked" };
  if (s.crowding) return { action: "claim", reason: "escrow-crowding" };
  if (s.trustSpent) return { action: "claim", reason: "trust-spent" };
  if (s.headroom !== undefined && s.headroom < policy.riskHeadroomNano)
    return { action: "claim", reason: "escrow-low" };
  if (deadline !== undefined && s.now >= deadline) return { action: "claim", reason: "held-too-long" };
  if (s.fee === undefined) return wait("fee-unknown");
  if (s.fee * BPS <= s.unclaimed * BigInt(policy.feeShareBps)) return { action: "claim", reason: "worth-it" };
  return wait("fee-above-target", { worthAt: worthAt(s.fee, policy) });
}

/** The smallest amount whose claim costs at most the target share in fees. */
export function worthAt(fee: bigint, policy: SettlementPolicy): bigint {
  const bps = BigInt(policy.feeShareBps);
  return (fee * BPS + bps - 1n) / bps;
}

/** A fee as a share of an amount, in basis points (rounded up: never reported below the truth). */
export function shareBps(fee: bigint, amount: bigint): number {
  if (amount <= 0n) return 0;
  return Number((fee * BPS + amount - 1n) / amount);
}

export function retryDelayMs(attempt: number, policy: SettlementPolicy): number {
  return policy.retryBaseMs * 2 ** Math.max(0, attempt - 1);
}

/**
 * What an escrow's refusal of a claim means: only "transient" is retried. "below-minimum": the
 * stream holds less than the minimum claim (ClaimTooSmall, as when another claim of an older
 * receipt left less than 0.01 TON): nothing to claim until its receipts grow.
 */
export type RefusalKind = "paid" | "invalid" | "underfunded" | "below-minimum" | "too-costly" | "transient";

export function classifyRefusal(
  exitCode: number | undefined,
  codes: Readonly<Record<string, number>>,
): RefusalKind {
  if (exitCode === undefined) return "transient";
  if (exitCode === codes.NothingNew) return "paid";
  if (exitCode === codes.InsufficientBalance) return "underfunded";
  if (exitCode === codes.ClaimTooSmall) return "below-minimum";
  // -14 / 13: out of the external gas credit (a very large escrow); an internal claim works.
  if (exitCode === -14 || exitCode === 13) return "too-costly";
  return "invalid";
}
