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

export interface EarningSample {
  readonly at: number;
  readonly earned: bigint;
  readonly claimed: bigint;
}

/** Points of a small step chart (0..width, 0..height, y down), from samples in time order. */
export function chartPoints(samples: readonly EarningSample[], width: number, height: number): string {
  if (samples.length === 0) return "";
  const t0 = samples[0]!.at;
  const t1 = samples[samples.length - 1]!.at;
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
  const max = samples.reduce((m, s) => (s.earned > m ? s.earned : m), 1n);
  const x = (at: number) => (t1 === t0 ? width : ((at - t0) / (t1 - t0)) * width);
  // Scale in bigint to per-mille, then to pixels: no float ever holds a money amount.
  const y = (v: bigint) => height - (Number((v * 1000n) / max) / 1000) * height;
  const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s.earned).toFixed(1)}`);
  if (samples.length === 1) points.unshift(`0,${y(samples[0]!.earned).toFixed(1)}`);
  return points.join(" ");
}
