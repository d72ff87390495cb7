import { setMaxListeners } from "node:events";
import type { Server, ServerResponse } from "node:http";
import { raceAbort } from "../sdk/abort-link";
import { HttpError } from "./http-errors";

/** The error every request still in flight when the gateway stops ends with: 503, retry elsewhere. */
export const shuttingDown = () =>
  new HttpError(
    503,
    "service_unavailable",
    "shutting_down",
    "the gateway is shutting down; the answer was cut short, retry once it is back",
  );

/**
 * The gateway's stop: no new connections, then `graceMs` for the answers in flight to finish, then
 * each one left ends with `shuttingDown` (a 503 before its first byte, an `error` event after it,
 * never a stream cut as if it had ended) and its request is aborted, so the provider stops and
 * nothing more is signed for.
 */
export class GatewayShutdown {
  private readonly cutter = new AbortController();
  private readonly inflight = new Set<ServerResponse>();
  /** Called when the last request in flight closes (set while `settled` waits). */
  private onEmpty: (() => void) | undefined;
  private stopping = false;

  constructor() {
    // One listener per race in flight (a request each): hundreds at once are no leak.
    setMaxListeners(0, this.cutter.signal);
  }

  /** Aborted when the requests in flight are cut: the SDK call's signal follows it. */
  get signal(): AbortSignal {
    return this.cutter.signal;
  }

  get closing(): boolean {
    return this.stopping;
  }

  track(res: ServerResponse): void {
    this.inflight.add(res);
    res.on("close", () => {
      this.inflight.delete(res);
      if (this.inflight.size === 0) this.onEmpty?.();
    });
  }

  /**
   * `work`, unless the gateway cuts it first. `raceAbort`, not `Promise.race` with one promise of
   * the cut: each race left a reaction on it holding what `work` resolved to, so every answer and
   * every chunk the gateway ever sent stayed in memory until it stopped.
   */
  race<T>(work: Promise<T>): Promise<T> {
    return raceAbort(work, this.cutter.signal, shuttingDown);
  }

  /** The items of `source` until the gateway cuts it: then its shutdown error is thrown. */
  async *until<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    const it = source[Symbol.asyncIterator]();
    let ended = false;
    try {
      for (;;) {
        const next = await this.race(it.next());
        if (next.done) {
          ended = true;
          return;
        }
        yield next.value;
      }
    } finally {
      // The request's signal is already aborted, which ends `source`; its return is not awaited.
      if (!ended) void it.return?.()?.catch(() => undefined);
    }
  }

  async close(server: Server, graceMs: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await this.settled(graceMs);
    this.cutter.abort();
    // The cut answers write their error and end at once; a client that does not read them is cut.
    await this.settled(1_000);
    server.closeAllConnections();
    await closed;
  }

  /** Resolves when the last request in flight closes, or after `ms`. */
  private async settled(ms: number): Promise<void> {
    if (this.inflight.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.onEmpty = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.onEmpty = undefined;
  }
}
