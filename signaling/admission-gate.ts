/**
 * Whether a node can take another connection now, or should turn it away at once with a time to
 * come back (`OVERLOADED`, retryable). Pure: time and the event loop's delay are passed in.
 *
 * Without it a swamped node accepted every handshake of a reconnect storm and got to them after
 * the clients had given up (10 s dial, 15 s ack): the work was wasted, the clients dialled again,
 * and the node fell further behind. So it bounds the work in progress instead:
 * - the returning providers admitted on a resume ticket and not yet registered, to what it has
 *   been registering in `drainMs` (at least `minPending`), so each admitted one is registered
 *   well before its client's deadline;
 * - and, for every connection, an event loop late by more than `lagLimitMs`.
 * A refused client is given a slot after those already told to wait, spaced at the node's
 * registration rate, so a storm comes back spread over the time the node needs, not all at once.
 */
export interface GateConfig {
  /** An event loop this late (ms, mean over the last sample) refuses every new connection; 0: never. */
  readonly lagLimitMs: number;
  /** Returning providers let in to register at once, whatever the measured rate. */
  readonly minPending: number;
  /** How long the admitted backlog may take to register at the measured rate (ms); 0: no backlog limit. */
  readonly drainMs: number;
  /** A handshake not registered within this long no longer counts (its client went away). */
  readonly pendingTtlMs?: number;
  /** Bounds of the hint a refusal carries (ms). */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
}

export type Verdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly why: "lag" | "backlog"; readonly retryAfterMs: number };

/**
 * Registrations per second assumed before any is measured: a storm's first refusals are handed
 * out before then, and a guess too low parks them all far apart (at 20/s, 3,000 providers took
 * 101 s to come back where taking them all took 34 s). A guess too high only costs a second
 * refusal, with a slot at the measured pace.
 */
const PRIOR_RATE = 200;
/** The slowest pace slots are spaced at, however slow the node measured itself. */
const FLOOR_RATE = 20;

export class AdmissionGate {
  /** Admitted on a ticket, not yet registered or gone: key → when admitted. */
  private readonly pending = new Map<unknown, number>();
  private lagMs = 0;
  /** Registrations per second, smoothed over one-second windows. */
  private rate = PRIOR_RATE;
  private windowStart: number;
  private windowCount = 0;
  /** The latest slot handed out to a refused client (ms, same clock as `now`). */
  private nextSlot = 0;

  constructor(
    private readonly config: GateConfig,
    now: number,
  ) {
    this.windowStart = now;
  }

  /** The event loop's delay in the last sample (ms). */
  lag(ms: number): void {
    this.lagMs = ms;
  }

  /** A connection admitted on a resume ticket: it will register (or leave). */
  admitted(key: unknown, now: number): void {
    this.pending.set(key, now);
  }

  /** The connection admitted under `key` registered (`true`) or went away. */
  settled(key: unknown, registered: boolean, now: number): void {
    if (!this.pending.delete(key) || !registered) return;
    this.roll(now);
    this.windowCount++;
  }

  /** How many admitted providers may wait to register at once now. */
  limit(now: number): number {
    this.roll(now);
    return Math.max(this.config.minPending, Math.round((this.rate * this.config.drainMs) / 1000));
  }

  get lateMs(): number {
    return this.lagMs;
  }

  get backlog(): number {
    return this.pending.size;
  }

  /** Whether to take a connection now; `returning` ones (on a ticket) also wait for the backlog. */
  verdict(now: number, returning: boolean): Verdict {
    this.expire(now);
    const lagged = this.config.lagLimitMs > 0 && this.lagMs > this.config.lagLimitMs;
    const backlogged = returning && this.config.drainMs > 0 && this.pending.size >= this.limit(now);
    if (!lagged && !backlogged) return { ok: true };
    const spacing = 1000 / Math.max(FLOOR_RATE, this.rate);
    // Past the backlog's own drain time, then one slot after the last client told to wait.
    const earliest = now + Math.max(this.lagMs, (this.pending.size / Math.max(FLOOR_RATE, this.rate)) * 1000);
    const min = this.config.minRetryMs ?? 500;
    const max = this.config.maxRetryMs ?? 30_000;
    // Capped, so slots handed out in one storm do not push the next one's clients further away.
    this.nextSlot = Math.min(now + max, Math.max(this.nextSlot, earliest) + spacing);
    const retryAfterMs = Math.round(Math.min(max, Math.max(min, this.nextSlot - now)));
    return { ok: false, why: lagged ? "lag" : "backlog", retryAfterMs };
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < 1000) return;
    // Windows with nothing admitted say nothing about the rate: only a busy window moves it.
    const measured = (this.windowCount * 1000) / elapsed;
    if (this.windowCount > 0 || this.pending.size > 0) this.rate = Math.max(1, (this.rate + measured) / 2);
    this.windowStart = now;
    this.windowCount = 0;
  }

  private expire(now: number): void {
    const ttl = this.config.pendingTtlMs ?? 30_000;
    for (const [key, at] of this.pending) {
      // Insertion order is admission order: the first young one ends the walk.
      if (now - at < ttl) break;
      this.pending.delete(key);
    }
  }
}
