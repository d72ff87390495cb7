/**
 * What a provider remembers of each stream (escrow, payout, key epoch) across its sessions. Every
 * session of a stream counts from the same cumulative receipt, so two rules keep the credit
 * window a bound on the stream and not on each session:
 *
 * - one live session per stream: a session that opens the stream ends the one that had it
 *   (`SESSION_REPLACED`). Two live sessions would each count from the same receipt, and a
 *   requester signing each session's own total would pay the larger of the two, not their sum.
 * - what a session streamed past its last receipt is remembered when it ends (the stream's
 *   count it reached), for `memoryMs`. A session that opens the stream again with a base receipt
 *   below that count gets the credit window less the difference; none at all when that is the
 *   whole window (`UNPAID_TOKENS`: sign for them, or wait). Without this, a requester that never
 *   pays would get a fresh window on every reconnect.
 *
 * In memory: a restarted provider forgets, at the cost of one window per stream.
 */
export const DEBT_MEMORY_MS = 60 * 60_000;

/** A live session as the tabs see it. */
export interface TabHolder {
  /** The stream's cumulative token count this session has streamed up to (receipted or not). */
  streamed(): bigint;
  /** Ends the session: another opened its stream. */
  replaced(): void;
}

export interface StreamTab {
  /** Tokens this session may stream past its last receipt. */
  readonly windowTokens: number;
  /** The session ended: remembers how far it streamed. */
  close(): void;
}

interface Reached {
  tokens: bigint;
  at: number;
}

export class StreamTabs {
  private readonly live = new Map<string, TabHolder>();
  private readonly reached = new Map<string, Reached>();

  constructor(
    private readonly memoryMs = DEBT_MEMORY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Opens `stream` for `holder`, whose base receipt covers `baseTokens`: ends the session that
   * had the stream, and returns the tab with what is left of `windowTokens`, or the unpaid count
   * when nothing is left (the session must not be opened).
   */
  open(
    stream: string,
    baseTokens: bigint,
    windowTokens: number,
    holder: TabHolder,
  ): StreamTab | { readonly unpaid: bigint } {
    const previous = this.live.get(stream);
    if (previous) {
      this.live.delete(stream);
      this.remember(stream, previous.streamed());
      previous.replaced();
    }
    const unpaid = this.unpaid(stream, baseTokens);
    if (unpaid >= BigInt(windowTokens)) return { unpaid };
    this.live.set(stream, holder);
    return {
      windowTokens: windowTokens - Number(unpaid),
      close: () => {
        this.remember(stream, holder.streamed());
        if (this.live.get(stream) === holder) this.live.delete(stream);
      },
    };
  }

  /** Tokens streamed on `stream` by sessions that ended, past `baseTokens`. */
  unpaid(stream: string, baseTokens: bigint): bigint {
    const r = this.reached.get(stream);
    if (!r || this.now() - r.at > this.memoryMs) return 0n;
    return r.tokens > baseTokens ? r.tokens - baseTokens : 0n;
  }

  private remember(stream: string, tokens: bigint): void {
    this.forgetOld();
    const r = this.reached.get(stream);
    const fresh = r && this.now() - r.at <= this.memoryMs;
    // Deleted and set again, so the map stays in the order of `at` and forgetOld stops early.
    this.reached.delete(stream);
    this.reached.set(stream, { tokens: fresh && r.tokens > tokens ? r.tokens : tokens, at: this.now() });
  }

  /** Drops what is older than the memory (the oldest first), so the map holds only recent streams. */
  private forgetOld(): void {
    const now = this.now();
    for (const [id, r] of this.reached) {
      if (now - r.at <= this.memoryMs) return;
      this.reached.delete(id);
    }
  }
}
