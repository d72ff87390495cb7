import { latestReceipt, type StreamRecord } from "../receipt-store";

/**
 * What the provider is owed, from the receipt streams it holds. Receipts are cumulative per
 * stream (escrow, payout, key epoch), so the total earned is the sum of each stream's newest
 * amount; what is unclaimed is that less what the escrows have already paid. Pure, bigint nanoTON.
 */
export interface Earnings {
  readonly earned: bigint;
  readonly claimed: bigint;
  readonly unclaimed: bigint;
  readonly escrows: number;
}

export function earningsFrom(streams: readonly StreamRecord[], payout: string): Earnings {
  let earned = 0n;
  let claimed = 0n;
  let escrows = 0;
  for (const record of streams) {
    const r = latestReceipt(record).receipt;
    if (r.payout.toRawString() !== payout) continue;
    escrows++;
    earned += r.amount;
    // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.min does not take
    claimed += record.claimed < r.amount ? record.claimed : r.amount;
  }
  return { earned, claimed, unclaimed: earned - claimed, escrows };
}
