/**
 * What a provider remembers of each stream (escrow, payout, key epoch) across its sessions. Every
 * session of a stream counts from the same cumulative receipt, so two rules keep the credit
 * window a bound on the stream and not on each session:
 *
 * - one live session per stream: a session that opens the stream ends the one that had it
 *   (`SESSION_REPLACED`). Two live sessions would each count from the same receipt, and a
 *   requester signing each session's own total would pay the larger of the two, not their sum.
 * - what each session streamed past its last receipt is added up when it ends, for `memoryMs`.
 *   A new session's base receipt pays off what it covers beyond the newest receipt seen; the
 *   rest is taken off its credit window, and when that is the whole window it is refused
 *   (`UNPAID_TOKENS`: sign for them, or wait). Without this, a requester that never pays would
 *   get a fresh window on every reconnect.
 *
 * In memory: a restarted provider forgets, at the cost of one window per stream.
 */
export const DEBT_MEMORY_MS = 60 * 60_000;
/** Streams whose debt is remembered at once; past it the oldest is forgotten (one window, as a restart). */
export const DEBT_MEMORY_STREAMS = 100_000;

/** A live session as the tabs see it, in the stream's cumulative token counts. */
export interface TabHolder {
  /** How far the session has streamed (receipted or not). */
  streamed(): bigint;
  /** The newest receipt it was given (its base receipt until one comes). */
  receipted(): bigint;
  /** Ends the session: another opened its stream. */
  replaced(): void;
}

export interface StreamTab {
  /** Tokens this session may stream past its last receipt. */
  readonly windowTokens: number;
  /** The session ended: what it streamed past its last receipt is owed by the stream. */
  close(): void;
}

interface Owed {
  /** Tokens streamed by ended sessions past their last receipts, not yet paid off. */
  unreceipted: bigint;
  /** The newest receipt seen on the stream: a base receipt past it pays off what it covers. */
  held: bigint;
  at: number;
}

export class StreamTabs {
  private readonly live = new Map<string, TabHolder>();
  private readonly owed = new Map<string, Owed>();

  constructor(
    private readonly memoryMs = DEBT_MEMORY_MS,
    private readonly now: () => number = Date.now,
    private readonly maxStreams = DEBT_MEMORY_STREAMS,
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
      this.settle(stream, previous);
      previous.replaced();
    }
    const unpaid = this.unpaid(stream, baseTokens);
    if (unpaid >= BigInt(windowTokens)) return { unpaid };
    const o = this.fresh(stream);
    if (o) this.set(stream, { unreceipted: unpaid, held: o.held > baseTokens ? o.held : baseTokens });
    this.live.set(stream, holder);
    return {
      windowTokens: windowTokens - Number(unpaid),
      close: () => {
        if (this.live.get(stream) !== holder) return; // replaced: settled then
        this.live.delete(stream);
        this.settle(stream, holder);
      },
    };
  }

  /** What a session opening `stream` with a base receipt of `baseTokens` would still owe. */
  unpaid(stream: string, baseTokens: bigint): bigint {
    const o = this.fresh(stream);
    if (!o) return 0n;
    const covered = baseTokens > o.held ? baseTokens - o.held : 0n;
    return o.unreceipted > covered ? o.unreceipted - covered : 0n;
  }

  private settle(stream: string, holder: TabHolder): void {
    const streamed = holder.streamed();
    const receipted = holder.receipted();
    const o = this.fresh(stream) ?? { unreceipted: 0n, held: 0n };
    this.set(stream, {
      unreceipted: o.unreceipted + (streamed > receipted ? streamed - receipted : 0n),
      held: o.held > receipted ? o.held : receipted,
    });
  }

  private fresh(stream: string): Owed | undefined {
    const o = this.owed.get(stream);
    return o && this.now() - o.at <= this.memoryMs ? o : undefined;
  }

  /** Deleted and set again, so the map stays in the order of `at` and old entries go first. */
  private set(stream: string, o: Omit<Owed, "at">): void {
    const now = this.now();
    for (const [id, old] of this.owed) {
      if (now - old.at <= this.memoryMs) break;
      this.owed.delete(id);
    }
    this.owed.delete(stream);
    if (this.owed.size >= this.maxStreams) this.owed.delete(this.owed.keys().next().value!);
    this.owed.set(stream, { ...o, at: now });
  }
}
