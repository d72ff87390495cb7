/**
 * The connection to signaling as a pure state machine, one owner for providers, SDK requesters
 * and the gateway alike (the socket I/O lives in `signaling-connection.ts`). It never gives up:
 * a lost connection is dialled again with jittered exponential backoff, moving round the
 * configured URLs, and a provider registers again after every reconnect and whenever the server
 * says it forgot the registration.
 *
 * - `connecting`: a socket is being dialled to `urls[url]`.
 * - `connected`: up; a requester needs nothing more.
 * - `registering`: up, a provider's registration in flight (or waiting to be retried).
 * - `registered`: up and listed; heartbeats run.
 * - `reconnecting`: down, waiting out the backoff before dialling the next URL.
 * - `moving`: the node said it is shutting down; dialling another at once (no backoff).
 * - `closed`: the owner closed the client; nothing more happens.
 *
 * A paused provider stays connected (`connected`, its sessions still relayed) but is not
 * listed: pausing unregisters, so no directory counts or pairs it, and resuming registers again.
 */
export type Phase =
  | "connecting"
  | "connected"
  | "registering"
  | "registered"
  | "reconnecting"
  | "moving"
  | "closed";

export interface ConnState {
  readonly phase: Phase;
  /** Index into the configured URLs of the node dialled or connected. */
  readonly url: number;
  /** Failures in a row (the backoff exponent); back to 0 once something succeeds. */
  readonly attempt: number;
  /** A provider that wants to be listed (it registers on every connection). */
  readonly provider: boolean;
  /** The owner paused serving: the provider stays unlisted until it resumes. */
  readonly paused: boolean;
}

export type ConnEvent =
  /** The socket connected. */
  | { readonly type: "connected" }
  /**
   * The socket failed to connect, dropped, or stopped answering heartbeats. `retryAfterMs`: the
   * node turned the dial away as `OVERLOADED` and said when to come back.
   */
  | { readonly type: "lost"; readonly retryAfterMs?: number }
  /** `server:shutdown`, or a `SHUTTING_DOWN` refusal: this node is leaving. */
  | { readonly type: "server-shutdown" }
  /** The owner caught this node lying (a grant that is not the provider's signed quote). */
  | { readonly type: "distrusted" }
  /** A registration was accepted (the owner's first, or one the machine asked for). */
  | { readonly type: "registered" }
  /** A registration was refused or timed out: retried after a backoff. */
  | { readonly type: "register-failed" }
  /** `NOT_REGISTERED` to a heartbeat, or `provider:unregistered`: the server forgot us. */
  | { readonly type: "unregistered" }
  /** The signed quotes are halfway through their life: register again with fresh ones. */
  | { readonly type: "renew" }
  /** The backoff wait ended. */
  | { readonly type: "timer" }
  /** The owner pauses serving (unlisted, connection kept) or resumes it. */
  | { readonly type: "pause" }
  | { readonly type: "resume" }
  | { readonly type: "close" };

export type Effect =
  | { readonly do: "dial"; readonly url: number }
  /** Drops the socket; sessions relayed through it end with this reason. */
  | { readonly do: "hang-up"; readonly why: "lost" | "shutdown" | "closed" }
  | { readonly do: "register" }
  /** Asks the server to drop the listing (best effort: unanswered, the heartbeats' silence does it). */
  | { readonly do: "unregister" }
  /** Starts the backoff wait (one at a time); its end is the `timer` event. */
  | { readonly do: "wait"; readonly ms: number }
  | { readonly do: "cancel-wait" };

export interface MachineConfig {
  /** How many signaling URLs are configured (at least 1). */
  readonly urls: number;
  /** In [0, 1); the jitter. */
  readonly random: () => number;
  readonly backoff?: BackoffConfig;
  /**
   * URLs not to move to while another will do (a node caught lying, remembered for a while by the
   * connection): the next URL is the first after the current one it does not avoid, else the
   * current one again, else, when every URL is avoided, simply the next.
   */
  readonly avoid?: (url: number) => boolean;
}

export interface BackoffConfig {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Short enough that a provider is listed again within a few seconds of a node coming back. */
export const DEFAULT_BACKOFF: BackoffConfig = { baseMs: 250, maxMs: 4_000 };

/**
 * "Equal jitter": half the exponential delay, plus a random part of the other half. Never zero,
 * so a node that restarts is not hit by every client in the same millisecond, and never more
 * than `maxMs`, so recovery after a long outage still takes seconds.
 */
export function backoffMs(attempt: number, random: () => number, b: BackoffConfig = DEFAULT_BACKOFF): number {
  const d = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(d / 2 + random() * (d / 2));
}

/** The longest a node's `retryAfterMs` is honoured: a hostile node cannot park a client for longer. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The wait a node asked for, at least, plus a random part of a quarter of it on top: the clients
 * a node turns away together do not all come back in the same millisecond.
 */
export function retryAfterWaitMs(retryAfterMs: number, random: () => number): number {
  const hint = Math.min(MAX_RETRY_AFTER_MS, Math.max(0, retryAfterMs));
  return Math.round(hint + random() * (hint / 4));
}

/**
 * How long a dial may take before it counts as failed: `baseMs` at first, longer after each
 * failure in a row (up to 3x), so a loaded node that is slow to finish handshakes is not dialled
 * again and again by clients that gave up on handshakes it was about to finish.
 */
export function dialTimeoutMs(attempt: number, baseMs: number): number {
  return Math.round(baseMs * Math.min(3, 1 + attempt / 2));
}

/** Where to dial after leaving `url`: round the URLs from the next, skipping those to avoid. */
export function nextUrl(url: number, c: MachineConfig): number {
  const n = Math.max(1, c.urls);
  for (let i = 1; i <= n; i++) {
    const u = (url + i) % n;
    if (!c.avoid?.(u)) return u;
  }
  return (url + 1) % n;
}

export function initialState(provider = false): ConnState {
  return { phase: "connecting", url: 0, attempt: 0, provider, paused: false };
}

export function initialEffects(s: ConnState): Effect[] {
  return [{ do: "dial", url: s.url }];
}

const UP: ReadonlySet<Phase> = new Set(["connected", "registering", "registered"]);

export function isUp(phase: Phase): boolean {
  return UP.has(phase);
}

export function step(s: ConnState, e: ConnEvent, c: MachineConfig): { state: ConnState; effects: Effect[] } {
  const next = (state: ConnState, ...effects: Effect[]) => ({ state, effects });
  const backoffOf = (attempt: number) => backoffMs(attempt, c.random, c.backoff);
  const wait = (attempt: number): Effect => ({ do: "wait", ms: backoffOf(attempt) });
  const after = nextUrl(s.url, c);
  if (s.phase === "closed") return next(s);
  switch (e.type) {
    case "close":
      return next({ ...s, phase: "closed" }, { do: "cancel-wait" }, { do: "hang-up", why: "closed" });
    case "connected":
      if (s.phase !== "connecting" && s.phase !== "moving") return next(s);
      return s.provider && !s.paused
        ? next({ ...s, phase: "registering", attempt: 0 }, { do: "register" })
        : next({ ...s, phase: "connected", attempt: 0 });
    case "lost": {
      if (s.phase === "reconnecting") return next(s);
      // A dropped connection is dialled again after one short wait; each failed dial waits longer.
      const attempt = s.phase === "connecting" || s.phase === "moving" ? s.attempt + 1 : 0;
      // A node that said when to come back is given at least that (with one URL: with several,
      // another node may have room, and the backoff moves on to it).
      const asked =
        e.retryAfterMs !== undefined && c.urls <= 1
          ? {
              do: "wait" as const,
              ms: Math.max(backoffOf(attempt), retryAfterWaitMs(e.retryAfterMs, c.random)),
            }
          : wait(attempt);
      return next(
        { ...s, phase: "reconnecting", url: after, attempt },
        { do: "hang-up", why: "lost" },
        asked,
      );
    }
    case "server-shutdown":
      if (s.phase === "reconnecting") return next(s);
      // Another node takes us at once; with one URL only, the same one once it is back.
      if (c.urls > 1)
        return next(
          { ...s, phase: "moving", url: after, attempt: 0 },
          { do: "cancel-wait" },
          { do: "hang-up", why: "shutdown" },
          { do: "dial", url: after },
        );
      return next(
        { ...s, phase: "reconnecting", attempt: 0 },
        { do: "cancel-wait" },
        { do: "hang-up", why: "shutdown" },
        wait(1),
      );
    case "distrusted":
      // Another node is dialled at once, as when one leaves; with one URL only, or none left that
      // is not avoided, nothing changes (the owner decides). Sessions relayed through the liar end
      // as when a connection drops.
      if (c.urls <= 1 || !isUp(s.phase) || after === s.url || c.avoid?.(after)) return next(s);
      return next(
        { ...s, phase: "moving", url: after, attempt: 0 },
        { do: "cancel-wait" },
        { do: "hang-up", why: "lost" },
        { do: "dial", url: after },
      );
    case "registered":
      // A registration that was in flight when the owner paused: undone at once.
      if (s.paused) return next({ ...s, provider: true }, { do: "unregister" });
      // From `connected`: the owner registered for the first time, and is a provider from now on.
      return s.phase === "registering" || s.phase === "connected"
        ? next({ ...s, phase: "registered", attempt: 0, provider: true })
        : next(s);
    case "register-failed":
      if (s.phase !== "registering") return next(s);
      return next({ ...s, attempt: s.attempt + 1 }, wait(s.attempt));
    case "unregistered":
    case "renew":
      if (s.phase !== "registered" || !s.provider) return next(s);
      return next({ ...s, phase: "registering", attempt: 0 }, { do: "register" });
    case "pause":
      if (s.paused) return next(s);
      if (s.phase === "registered" || s.phase === "registering")
        return next(
          { ...s, phase: "connected", attempt: 0, paused: true },
          { do: "cancel-wait" },
          { do: "unregister" },
        );
      return next({ ...s, paused: true });
    case "resume":
      if (!s.paused) return next(s);
      if (s.phase === "connected" && s.provider)
        return next({ ...s, phase: "registering", attempt: 0, paused: false }, { do: "register" });
      return next({ ...s, paused: false });
    case "timer":
      if (s.phase === "reconnecting") return next({ ...s, phase: "connecting" }, { do: "dial", url: s.url });
      if (s.phase === "registering") return next(s, { do: "register" });
      return next(s);
  }
}
