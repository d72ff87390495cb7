/**
 * Tabs of one browser share one session key (it lives in the origin's IndexedDB), and a provider
 * keeps one live session per key: a second tab opening a session ends the first's with
 * `SESSION_REPLACED`, cutting its answer. So an answer over the network runs only while its tab
 * holds the key's turn (a Web Lock, released by the browser when a tab closes or crashes); another
 * tab waits for it, and may ask the holder to stop (a BroadcastChannel message), which the holder
 * does as its own Stop would: it signs for what arrived, then lets go.
 */

/** The lock and channel name: one key per origin, so one name per origin. */
const NAME = "silk-session-key";
/** How long a question waits for another tab's answer before it gives up and says so. */
export const TURN_WAIT_MS = 5 * 60_000;

/** The wait for another tab ran out: the question was not sent. */
export class TabBusyError extends Error {
  override readonly name = "TabBusyError";
  constructor(readonly waitedMs: number) {
    super(`another tab held this browser's key for ${Math.round(waitedMs / 1000)} s`);
  }
}

export interface TurnHooks {
  /**
   * The turn is held: the question waits (called at most once). `own`: by this tab itself (its
   * audit of the last answer, which takes its turn like a question), not another tab.
   */
  readonly waiting: (own: boolean) => void;
  /** The user stopped: a wait ends with an AbortError. */
  readonly signal: AbortSignal;
  /** Test seam: the wait's deadline. */
  readonly waitMs?: number;
}

export class TabTurns {
  private readonly channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(NAME) : undefined;
  /** Aborts the answer this tab runs, when another tab asks for the turn. */
  private asked: AbortController | undefined;
  /** Runs of this tab holding the turn now. */
  private holding = 0;

  constructor() {
    this.channel?.addEventListener("message", (e: MessageEvent<unknown>) => {
      if ((e.data as { t?: unknown } | null)?.t === "take-over") this.asked?.abort();
    });
  }

  /**
   * Runs `fn` holding the key's turn; `taken` aborts when another tab asks for it. Without Web
   * Locks (an old browser, a page not served over https or from localhost) it runs at once, as
   * before: tabs then take turns at the provider.
   */
  async hold<T>(hooks: TurnHooks, fn: (taken: AbortSignal) => Promise<T>): Promise<T> {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    if (!locks) return fn(new AbortController().signal);
    const run = async (): Promise<T> => {
      const asked = new AbortController();
      this.asked = asked;
      this.holding++;
      try {
        return await fn(asked.signal);
      } finally {
        this.holding--;
        if (this.asked === asked) this.asked = undefined;
      }
    };
    const free = await locks.request(NAME, { ifAvailable: true }, async (lock) =>
      lock ? { value: await run() } : undefined,
    );
    if (free) return free.value;
    hooks.waiting(this.holding > 0);
    const waitMs = hooks.waitMs ?? TURN_WAIT_MS;
    const deadline = AbortSignal.timeout(waitMs);
    try {
      return await locks.request(NAME, { signal: eitherSignal(hooks.signal, deadline) }, run);
    } catch (err) {
      if (deadline.aborted && !hooks.signal.aborted) throw new TabBusyError(waitMs);
      throw err;
    }
  }

  /** Asks the tab holding the turn to stop its answer (it keeps what arrived) and let this one ask. */
  takeOver(): void {
    this.channel?.postMessage({ t: "take-over" });
  }

  dispose(): void {
    this.channel?.close();
  }
}

/** `AbortSignal.any` of two, also where it is missing (Safari before 17.4, older Telegram webviews). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const both = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) both.abort(s.reason);
    else s.addEventListener("abort", () => both.abort(s.reason), { once: true });
  }
  return both.signal;
}
