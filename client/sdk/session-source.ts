import type { RelayRefusedError } from "../../peer/signaling-client";
import { encodePublicKey, missingNeed, type Need } from "../../protocol";
import { unlessAborted } from "./abort-link";
import { type ConnectOptions, DEFAULT_QUEUE_TIMEOUT_MS } from "./connect-options";
import { NoProviderError, ProviderError } from "./errors";
import { QuoteRefusedLately } from "./quote-refusal";
import { isNoOtherProvider, isOneProvidersRefusal, isPriceRefusal } from "./refusal-kinds";
import type { RequesterSession } from "./requester-session";
import type { SessionOpener } from "./session-opener";
import { SessionPool } from "./session-pool";

/**
 * Where each request runs: per model, the pool of open sessions that serve it (session-pool.ts),
 * one more opened when none has room, or room waited for when signaling has no other provider;
 * and each session closed once it has been idle for `idleCloseMs`.
 */

/** How long a pool waits for room before asking signaling again for another provider. */
const NO_OTHER_RETRY_MS = 2_000;

/** What a request cancelled while its session opened was doing (its AbortError's message). */
const WAITING = "while waiting for a session with a provider";

/** What a request waits for room with: providers that refused it as full, until when, and its abort. */
export interface RoomWait {
  readonly full: Set<string>;
  readonly deadline: number;
  readonly signal: AbortSignal;
  /** The request's relay refusals so far (session-opener.ts counts them per server). */
  readonly refusals?: RelayRefusedError[];
}

export interface ModelPool {
  readonly sessions: SessionPool<RequesterSession>;
  /** The open in flight for this model, if any. */
  opening?: Promise<RequesterSession>;
  /** Until then, signaling is not asked for another provider (it said there was none). */
  noOtherUntil: number;
}

export class SessionSource {
  /** Per model: the open sessions that serve it, one per provider. */
  private readonly pools = new Map<string, ModelPool>();
  /** Providers that lately refused a fresh session's quote too: asked last (quote-refusal.ts). */
  readonly quoteRefused = new QuoteRefusedLately();

  constructor(
    private readonly opener: SessionOpener,
    private readonly opts: Pick<ConnectOptions, "idleCloseMs" | "queueTimeoutMs">,
  ) {}

  close(): void {
    for (const { timer } of this.busy.values()) clearTimeout(timer);
    this.opener.closeAll();
  }

  /** Signaling connections dialled so far: a change means the link dropped meanwhile. */
  get links(): number {
    return this.opener.links;
  }

  private readonly busy = new Map<
    RequesterSession,
    { inflight: number; timer?: ReturnType<typeof setTimeout> }
  >();
  /** Retired sessions with answers still under way (closed when the last ends). */
  private readonly retiredBusy = new Set<RequesterSession>();
  /** Before then no session held has a quote run out: renewQuotes does not look at them. */
  private renewAt = 0;

  /** Counts answers in flight per session and closes a session once it has been idle long enough. */
  async tracked<T>(session: RequesterSession, run: () => Promise<T>): Promise<T> {
    const entry = this.busy.get(session) ?? { inflight: 0 };
    this.busy.set(session, entry);
    clearTimeout(entry.timer);
    entry.inflight++;
    try {
      return await run();
    } finally {
      entry.inflight--;
      if (entry.inflight === 0 && session.retired) {
        this.busy.delete(session);
        this.retiredBusy.delete(session);
        session.close();
      } else if (entry.inflight === 0) {
        entry.timer = setTimeout(() => {
          this.busy.delete(session);
          session.close();
        }, this.opts.idleCloseMs ?? 20_000);
        entry.timer.unref?.();
      }
    }
  }

  /**
   * Starts nothing more on `session` (its quote ran out, or the provider said so) and closes it
   * once no answer is under way on it: a fresh session with the provider would end it at once
   * (one session per stream), cutting those answers.
   */
  retire(session: RequesterSession): void {
    session.retired = true;
    for (const pool of this.pools.values())
      for (const provider of pool.sessions.providers((s) => s === session)) pool.sessions.remove(provider);
    const entry = this.busy.get(session);
    if ((entry?.inflight ?? 0) > 0) {
      this.retiredBusy.add(session);
      return;
    }
    if (entry) clearTimeout(entry.timer);
    this.busy.delete(session);
    session.close();
  }

  /**
   * Retires the sessions whose quote ran out, and returns the providers whose retired session is
   * still draining (open: an answer still streams on it), by identity key. Such a provider is full
   * for now: a fresh session with it would end the draining one (one session per stream,
   * SESSION_REPLACED) and cut its answers. It is asked again once that session has closed, and
   * waited for only when nobody else can serve (sessionFor).
   */
  private renewQuotes(): Map<string, RequesterSession> {
    // The sessions are walked only once the soonest quote among them may have run out (or one
    // opened since), not on every pass of sessionFor's loop.
    if (Date.now() >= this.renewAt) {
      let next = Infinity;
      for (const session of this.opener.sessions()) {
        if (!session.retired && session.quoteRunOut()) this.retire(session);
        else if (!session.retired) next = Math.min(next, session.quoteRunsOutAt());
      }
      this.renewAt = next;
    }
    const draining = new Map<string, RequesterSession>();
    for (const session of this.retiredBusy) {
      if (session.isOpen) draining.set(encodePublicKey(session.providerKey), session);
      else this.retiredBusy.delete(session);
    }
    return draining;
  }

  /**
   * The pool's open in flight: the session it opens joins the pool whoever still waits for it (a
   * caller that cancelled leaves it to the next request, and its idle close).
   */
  private pooled(pool: ModelPool, open: Promise<RequesterSession>): Promise<RequesterSession> {
    const opening: Promise<RequesterSession> = open.then(
      (session) => {
        if (pool.opening === opening) pool.opening = undefined;
        // Its quotes are looked at on the next pass.
        this.renewAt = 0;
        pool.sessions.add(encodePublicKey(session.providerKey), session);
        // Its idle clock starts now, so one nobody came back for closes too.
        void this.tracked(session, () => Promise.resolve());
        return session;
      },
      (err: unknown) => {
        if (pool.opening === opening) pool.opening = undefined;
        throw err;
      },
    );
    pool.opening = opening;
    opening.catch(() => undefined);
    return opening;
  }

  poolOf(model: string): ModelPool {
    let pool = this.pools.get(model);
    if (!pool) {
      pool = { sessions: new SessionPool(), noOtherUntil: 0 };
      this.pools.set(model, pool);
    }
    return pool;
  }

  /**
   * A session for one request: the least loaded pooled one with room; else one more provider
   * (a session we hold for another model, or a new one); else, when signaling has no other
   * provider (ALL_BUSY, or none besides those pooled), room in the pool, waited for until
   * `deadline`. One open per model at a time: requests that arrive meanwhile wait for it.
   * A provider whose retired session still streams (renewQuotes) is full until that session
   * closes, and one that lately refused fresh quotes (quote-refusal.ts) is asked only when
   * signaling has nobody else.
   */
  async sessionFor(
    model: string,
    exclude: readonly string[],
    needs: readonly Need[],
    { full, deadline, signal, refusals }: RoomWait,
  ): Promise<{ provider: string; session: RequesterSession }> {
    const pool = this.poolOf(model);
    // A session whose provider declared every feature this request needs (tools, schema, …), and
    // whose price for the model is still the provider's signed word (its quote has not run out).
    const fits = (s: RequesterSession) =>
      !s.retired && s.quoteLive(model) && !missingNeed(needs, s.support.get(model));
    // A provider whose fresh session's quote was not live at once is not opened again for this
    // request (each open would be the same, until signaling's rate limit): the answer when nobody
    // else serves.
    let stale: ProviderError | undefined;
    const staleProviders: string[] = [];
    // Asked last: lifted once signaling has nobody else.
    let last = this.quoteRefused.providers();
    for (;;) {
      const draining = this.renewQuotes();
      const skip = new Set([...exclude, ...full, ...staleProviders, ...draining.keys(), ...last]);
      const pooled = pool.sessions.pick(skip, fits);
      if (pooled) return pooled;
      const connected = this.opener.connectedFor(
        model,
        new Set([...skip, ...pool.sessions.providers()]),
        fits,
      );
      if (connected) {
        pool.sessions.add(connected.provider, connected.session);
        return connected;
      }
      // A caller that cancels stops waiting for an open at once; the open goes on for the pool.
      if (pool.opening) {
        await unlessAborted(
          pool.opening.catch(() => undefined),
          signal,
          WAITING,
        );
        continue;
      }
      // Room may come: a pooled session's answers end, or a draining one of a provider that serves
      // the model closes (one that does not is left out, never waited for).
      const serving = [...draining.values()].filter((s) => s.prices.has(model));
      const held = pool.sessions.count(fits) > 0 || serving.length > 0;
      if (Date.now() >= pool.noOtherUntil || !held) {
        const opening = this.pooled(
          pool,
          this.opener.openFresh(
            model,
            [...exclude, ...staleProviders, ...draining.keys(), ...last, ...pool.sessions.providers(fits)],
            needs,
            refusals,
          ),
        );
        try {
          const session = await unlessAborted(opening, signal, WAITING);
          const provider = encodePublicKey(session.providerKey);
          if (!skip.has(provider) && fits(session)) return { provider, session };
          if (!session.retired && !session.quoteLive(model)) {
            this.retire(session);
            staleProviders.push(provider);
            stale = new ProviderError(
              "QUOTE_EXPIRED",
              `provider ${provider}'s quote for ${model} ran out as its session opened; retry shortly`,
            );
          }
          continue;
        } catch (err) {
          // Nobody else on offer: those asked last are asked now (their clock may be right again).
          if (isNoOtherProvider(err) && last.length > 0 && !signal.aborted) {
            last = [];
            continue;
          }
          if (stale && isNoOtherProvider(err) && !signal.aborted) throw stale;
          // A refusal of one provider's own (its escrow terms, a price it did not sign), nobody else
          // on offer: the pool's may have room soon.
          const onlyThat = isNoOtherProvider(err) || isOneProvidersRefusal(err) || isPriceRefusal(err);
          if (signal.aborted || !onlyThat || !held) throw err;
          pool.noOtherUntil = Date.now() + NO_OTHER_RETRY_MS;
        }
      }
      // Every provider that serves the model is in the pool and full, or draining: wait for room,
      // or for a draining session to close (its provider is then asked at once).
      const wakeAt = Math.min(deadline, pool.noOtherUntil);
      const drained =
        serving.length > 0
          ? Promise.race(serving.map((s) => s.whenClosed())).then(() => {
              pool.noOtherUntil = 0;
            })
          : undefined;
      if (!(await pool.sessions.waitForRoom(wakeAt, signal, drained))) {
        // As fetch does: the caller cancelled, and nothing was sent to any provider.
        if (signal.aborted) throw new DOMException("cancelled while waiting for a provider", "AbortError");
        if (Date.now() >= deadline)
          throw new NoProviderError(
            "ALL_BUSY",
            `every provider of ${model} stayed busy for ${Math.round((this.opts.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS) / 1000)} s; retry shortly`,
          );
      }
      full.clear();
    }
  }
}
