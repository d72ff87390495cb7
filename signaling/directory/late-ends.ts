import { isTransientReply, RedisUnavailableError } from "../errors";

/** How late ends are retried; the defaults suit production, tests shorten them. */
export interface LateEndOptions {
  /** How far apart the owed ends are sent again (one timer for all of them). */
  retryMs?: number;
  /** Sends with no reply from Redis (or a "not now" one: `isTransientReply`) after which an end is given up (sends skipped while offline do not count). */
  tries?: number;
  /** An owed end older than this is given up whatever its tries: the session record has expired by then. */
  maxAgeMs?: number;
}

export interface LateEndEvents {
  /** A session whose pairing or end got no reply was ended by a later try: its place is given back. */
  onLateEnd?: (sessionId: string) => void;
  /** An owed end was given up (`why` names the cause; no key, no secret): the place stays taken until the record expires. */
  onLateEndGivenUp?: (sessionId: string, why: string) => void;
}

/**
 * Whether a pairing or an end that failed with `err` may still run, or never ran and must be sent
 * again: no reply (`RedisUnavailableError`), or a "not now" reply (`isTransientReply`: LOADING
 * while a restarted Redis reads its data, BUSY, ...). Any other reply is Redis's answer.
 */
export function owesEnd(err: unknown): boolean {
  return err instanceof RedisUnavailableError || isTransientReply(err);
}

interface Owed {
  readonly space: string;
  readonly since: number;
  triesLeft: number;
}

/**
 * Session ends owed to Redis (a pairing or an end that got no reply; see `RedisDirectory`): one
 * map swept by one timer, at most one CLOSE per owed session per sweep, and a sweep only while the
 * client is connected. A loop per owed end, as before, sent one CLOSE per second per session into
 * node-redis's offline queue for as long as Redis was away, and all of them at once when it came
 * back; and gave up silently.
 */
export class LateEnds {
  private readonly owed = new Map<string, Owed>();
  private readonly retryMs: number;
  private readonly tries: number;
  private readonly maxAgeMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;

  constructor(
    /** Sends one CLOSE; resolves with Redis's reply (null: no such session). */
    private readonly send: (space: string, sessionId: string) => Promise<unknown>,
    /** Whether the client is connected now (a send while it is not would only be queued). */
    private readonly ready: () => boolean,
    options: LateEndOptions,
    private readonly events: LateEndEvents,
  ) {
    this.retryMs = options.retryMs ?? 1_000;
    this.tries = options.tries ?? 60;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3600_000;
  }

  /** How many ends are owed now. */
  get size(): number {
    return this.owed.size;
  }

  owe(space: string, sessionId: string): void {
    // An end owed after close (a CLOSE in flight when the node closed) is given up as those owed
    // then were: said so, not dropped unsaid.
    if (this.closed) {
      this.events.onLateEndGivenUp?.(sessionId, "the node closed first");
      return;
    }
    if (this.owed.has(sessionId)) return;
    this.owed.set(sessionId, { space, since: Date.now(), triesLeft: this.tries });
    if (!this.timer) {
      this.timer = setInterval(() => void this.sweep(), this.retryMs);
      this.timer.unref();
    }
  }

  /** The node closes: what is still owed is given up (and said so). */
  close(): void {
    this.closed = true;
    for (const id of [...this.owed.keys()]) this.giveUp(id, "the node closed first");
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    const now = Date.now();
    for (const [id, owed] of this.owed)
      if (now - owed.since > this.maxAgeMs) this.giveUp(id, "its session record has expired by now");
    if (this.owed.size === 0) return this.stop();
    if (!this.ready()) return;
    this.sweeping = true;
    try {
      await Promise.all([...this.owed].map(([id, owed]) => this.retry(id, owed)));
    } finally {
      this.sweeping = false;
    }
    if (this.owed.size === 0) this.stop();
  }

  private async retry(id: string, owed: Owed): Promise<void> {
    try {
      const reply = await this.send(owed.space, id);
      if (this.owed.delete(id) && reply !== null) this.events.onLateEnd?.(id);
    } catch (err) {
      if (!this.owed.has(id)) return;
      if (!owesEnd(err))
        return this.giveUp(id, `Redis refused it (${err instanceof Error ? err.name : typeof err})`);
      owed.triesLeft -= 1;
      if (owed.triesLeft <= 0) this.giveUp(id, `no reply from Redis to ${this.tries} tries`);
    }
  }

  private giveUp(id: string, why: string): void {
    this.owed.delete(id);
    this.events.onLateEndGivenUp?.(id, why);
  }
}
