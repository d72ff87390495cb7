import type { SignedReceipt } from "../protocol/receipt";
import type { EscrowView } from "./escrow-book";
import { type ClaimRecord, FOREIGN_CLAIM_REASON, latestReceipt, type StreamRecord } from "./receipt-store";
import { type ClaimDecision, shareBps } from "./settlement-policy";

/**
 * What settlement tells the owner (the provider page, the headless provider's status line):
 * earned, held per escrow, when each stream will be claimed and why, the fee of every claim made
 * and its share, and what "Claim now" would cost before it is pressed. Pure: built from the plans
 * settlement makes for each stream.
 */
export type FeeEstimator = (signed: SignedReceipt, record: StreamRecord) => Promise<bigint | undefined>;

export interface StreamPlan {
  readonly record: StreamRecord;
  /** The receipt a claim would send: the newest one the escrow could pay. */
  readonly target: SignedReceipt;
  readonly fee: bigint | undefined;
  readonly decision: ClaimDecision;
  /** The escrow as last read, when it was. */
  readonly escrow: EscrowView | undefined;
}

export interface StreamStatus {
  readonly id: string;
  readonly escrow: string;
  readonly tokens: bigint;
  /** The newest receipt's amount. */
  readonly amount: bigint;
  readonly claimed: bigint;
  /** Held: signed, payable and not yet claimed. */
  readonly pending: bigint;
  /** Signed above what the escrow could pay when it came (kept, claimed only if the escrow can). */
  readonly unpayable: bigint;
  /** The expected fee of claiming it now and its share of the amount (basis points). */
  readonly fee?: bigint;
  readonly feeShareBps?: number;
  /** What the policy decides now: claim (why) or wait (why, until when, from what amount). */
  readonly next: ClaimDecision;
  readonly claims: readonly ClaimRecord[];
  readonly lastError?: string;
}

export interface EscrowHeld {
  readonly escrow: string;
  readonly held: bigint;
  readonly closing: boolean;
  /** What it could still pay when last read (undefined: not read since start). */
  readonly available?: bigint;
}

export interface SettlementStatus {
  /** Everything signed and payable: claimed plus held. */
  readonly earned: bigint;
  readonly claimed: bigint;
  readonly pending: bigint;
  /** Fees of every claim made, and their share of what those claims paid (basis points). */
  readonly feesPaid: bigint;
  readonly feeShareBps: number;
  readonly escrows: readonly EscrowHeld[];
  /** What "Claim now" would claim and cost (fee unknown when the chain's prices were not read). */
  readonly claimNow: { readonly streams: number; readonly amount: bigint; readonly fee: bigint | undefined };
  readonly streams: readonly StreamStatus[];
}

export function statusOf(
  plans: readonly StreamPlan[],
  asked: readonly StreamPlan[],
  errors: ReadonlyMap<string, string>,
): SettlementStatus {
  const streams = plans.map((p) => streamStatus(p, errors.get(p.record.id)));
  const escrows = new Map<string, EscrowHeld>();
  for (const [i, s] of streams.entries()) {
    const view = plans[i]?.escrow;
    const e = escrows.get(s.escrow);
    escrows.set(s.escrow, {
      escrow: s.escrow,
      held: (e?.held ?? 0n) + s.pending,
      closing: (view?.unlockAt ?? 0) !== 0,
      ...(view ? { available: view.available } : {}),
    });
  }
  let nowAmount = 0n;
  let nowFee: bigint | undefined = 0n;
  let nowCount = 0;
  for (const p of asked) {
    if (p.decision.action !== "claim") continue;
    nowCount++;
    nowAmount += p.target.receipt.amount - p.record.claimed;
    nowFee = nowFee === undefined || p.fee === undefined ? undefined : nowFee + p.fee;
  }
  const claimed = streams.reduce((t, s) => t + s.claimed, 0n);
  // Our own claims: someone else's (FOREIGN_CLAIM_REASON) cost a fee not known here.
  const claims = streams.flatMap((s) => s.claims).filter((c) => c.reason !== FOREIGN_CLAIM_REASON);
  const feesPaid = claims.reduce((t, c) => t + c.fee, 0n);
  const claimedByClaims = claims.reduce((t, c) => t + c.amount, 0n);
  const pending = streams.reduce((t, s) => t + s.pending, 0n);
  return {
    earned: claimed + pending,
    claimed,
    pending,
    feesPaid,
    feeShareBps: shareBps(feesPaid, claimedByClaims),
    escrows: [...escrows.values()].filter((e) => e.held > 0n),
    claimNow: { streams: nowCount, amount: nowAmount, fee: nowFee },
    streams,
  };
}

function streamStatus(p: StreamPlan, lastError: string | undefined): StreamStatus {
  const latest = latestReceipt(p.record).receipt;
  const payable = p.target.receipt.amount;
  const pending = payable > p.record.claimed ? payable - p.record.claimed : 0n;
  return {
    id: p.record.id,
    escrow: latest.escrow.toRawString(),
    tokens: latest.tokens,
    amount: latest.amount,
    claimed: p.record.claimed,
    pending,
    unpayable: latest.amount - payable,
    ...(p.fee !== undefined ? { fee: p.fee, feeShareBps: shareBps(p.fee, pending) } : {}),
    next: p.decision,
    claims: p.record.claims ?? [],
    ...(lastError ? { lastError } : {}),
  };
}
