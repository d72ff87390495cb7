/** The earnings chart's data: samples of what was earned and claimed over time. Pure, bigint nanoTON. */
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

/** The chart's axes: the top of the money axis (the most earned) and the time span, as labels. */
export interface ChartAxes {
  /** nanoTON at the top of the y axis (0 is at the bottom). */
  readonly top: bigint;
  readonly from: number;
  readonly to: number;
}

export function chartAxes(samples: readonly EarningSample[]): ChartAxes | undefined {
  if (samples.length === 0) return undefined;
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
  const top = samples.reduce((m, s) => (s.earned > m ? s.earned : m), 0n);
  return { top, from: samples[0]!.at, to: samples[samples.length - 1]!.at };
}

/** "14:05" for today, "27 Nov 14:05" otherwise: where the time axis starts and ends. */
export function timeLabel(at: number, now = Date.now()): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return new Date(now).toDateString() === d.toDateString()
    ? time
    : `${d.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}
