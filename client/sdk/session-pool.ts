/**
 * The open sessions that serve one model, one per provider, and which to send the next request
 * to: the least loaded that is open, not skipped by this request, and under the load its provider
 * last refused at (QUEUE_FULL teaches the pool a provider's limit; until then there is none).
 * Requests that find every session full wait for one to finish, up to their deadline. No I/O:
 * the SDK opens sessions and runs requests; this decides where they go.
 */
export interface PooledSession {
  readonly isOpen: boolean;
}

interface Entry<S> {
  readonly session: S;
  inflight: number;
  /** In-flight requests the provider took at most, learned from its QUEUE_FULL. */
  limit: number;
}

export class SessionPool<S extends PooledSession> {
  private readonly entries = new Map<string, Entry<S>>();
  private waiters: (() => void)[] = [];

  /** Providers (identity keys) with an open session in the pool (that `fits`, when given). */
  providers(fits: (s: S) => boolean = () => true): string[] {
    this.dropClosed();
    return [...this.entries].filter(([, e]) => fits(e.session)).map(([provider]) => provider);
  }

  count(fits?: (s: S) => boolean): number {
    return this.providers(fits).length;
  }

  add(provider: string, session: S): void {
    if (!this.entries.has(provider)) this.entries.set(provider, { session, inflight: 0, limit: Infinity });
    this.wake();
  }

  remove(provider: string): void {
    this.entries.delete(provider);
    this.wake();
  }

  /** The least loaded open session under its limit, not in `skip`, that `fits` (the request's needs). */
  pick(
    skip: ReadonlySet<string>,
    fits: (s: S) => boolean = () => true,
  ): { provider: string; session: S } | undefined {
    this.dropClosed();
    let best: [string, Entry<S>] | undefined;
    for (const [provider, e] of this.entries) {
      if (skip.has(provider) || e.inflight >= e.limit || !fits(e.session)) continue;
      if (!best || e.inflight < best[1].inflight) best = [provider, e];
    }
    return best && { provider: best[0], session: best[1].session };
  }

  /** Counts a request on `provider` until the returned function is called (once). */
  begin(provider: string): { inflight: number; end: () => void } {
    const e = this.entries.get(provider);
    if (e) e.inflight++;
    let ended = false;
    return {
      inflight: e?.inflight ?? 1,
      end: () => {
        if (ended) return;
        ended = true;
        // Idle again: whatever load taught its limit (ours or other requesters') has drained.
        if (e && --e.inflight === 0) e.limit = Infinity;
        this.wake();
      },
    };
  }

  /** The provider refused a request sent as its `inflight`th: it takes fewer than that at once. */
  full(provider: string, inflight: number): void {
    const e = this.entries.get(provider);
    if (e) e.limit = Math.max(1, Math.min(e.limit, inflight - 1));
  }

  /**
   * Resolves true when a request ends or a session joins (there may be room), or `also` settles
   * (a provider that was full for another reason is free); false at the deadline or abort.
   */
  waitForRoom(deadline: number, signal?: AbortSignal, also?: Promise<unknown>): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (room: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(room);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), Math.max(0, deadline - Date.now()));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(wake);
      also?.then(wake, wake);
    });
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  private dropClosed(): void {
    for (const [provider, e] of this.entries) if (!e.session.isOpen) this.entries.delete(provider);
  }
}
