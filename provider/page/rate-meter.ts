/**
 * Tokens per second over a sliding window, from `tokens` events. Pure: the clock is passed in,
 * so it is tested without waiting.
 */
export class RateMeter {
  private readonly samples: { at: number; count: number }[] = [];

  constructor(private readonly windowMs = 5_000) {}

  add(count: number, now: number): void {
    this.samples.push({ at: now, count });
    this.trim(now);
  }

  /** Tokens per second over the window ending at `now` (0 when nothing arrived). */
  rate(now: number): number {
    this.trim(now);
    const first = this.samples[0];
    if (!first) return 0;
    const total = this.samples.reduce((n, s) => n + s.count, 0);
    const span = Math.max(1_000, now - first.at);
    return (total * 1_000) / span;
  }

  private trim(now: number): void {
    while (this.samples.length > 0 && now - this.samples[0]!.at > this.windowMs) this.samples.shift();
  }
}
