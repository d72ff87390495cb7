import { io, type Socket } from "socket.io-client";
import {
  type BackoffConfig,
  type ConnEvent,
  type ConnState,
  dialTimeoutMs,
  type Effect,
  initialEffects,
  initialState,
  isUp,
  type MachineConfig,
  step,
} from "./connection-machine";

/**
 * The socket.io edge of `connection-machine.ts`: dials, hangs up, waits and registers as the
 * machine says, and feeds it what the sockets report. socket.io's own reconnection is off: one
 * socket per attempt, so a client can move to another URL, and no listener of an old socket
 * (its `connect_error`, say) can ever act on the connection that replaced it.
 */
export interface ConnectionOptions {
  /** One or more signaling URLs (nodes sharing a directory); tried in turn. */
  readonly urls: readonly string[];
  /** How long one dial may take before it counts as failed (ms). */
  readonly dialTimeoutMs?: number;
  readonly backoff?: BackoffConfig;
  readonly random?: () => number;
}

export type HangUpWhy = Extract<Effect, { do: "hang-up" }>["why"];

export interface ConnectionHooks {
  /** Wires the owner's listeners onto each new socket. */
  attach(socket: Socket): void;
  /** Registers as a provider over `socket`; resolves once the server accepted. */
  register(socket: Socket): Promise<void>;
  /** Drops the listing over `socket` (pausing); its failures are the hook's to absorb. */
  unregister(socket: Socket): void;
  /** A socket was dropped: whatever ran through it (relayed sessions) is over. */
  hungUp(why: HangUpWhy): void;
  /** Every state change (heartbeats start and stop on `registered`). */
  changed(state: ConnState): void;
  /** The provider's latest resume ticket, presented when dialling again (signaling admits it in a storm). */
  ticket?(): string | undefined;
}

export class SignalingConnection {
  private state: ConnState = initialState();
  private socket: Socket | undefined;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private dialDeadline: ReturnType<typeof setTimeout> | undefined;
  private readonly waiters = new Set<() => void>();
  /** Once connected, every later dial says it is a reconnection, with the provider's ticket if it has one. */
  private returning = false;
  private readonly machine: MachineConfig;
  /** Nodes caught lying, by URL index: not moved to again before this time (ms) while another will do. */
  private readonly distrustedUntil = new Map<number, number>();

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    if (opts.urls.length === 0) throw new Error("at least one signaling URL is needed");
    this.machine = {
      urls: opts.urls.length,
      random: opts.random ?? Math.random,
      backoff: opts.backoff,
      avoid: (url) => this.isDistrusted(url),
    };
  }

  /** Remembers the node in use as a liar until `untilMs`: no move or reconnect goes back to it before. */
  distrustCurrent(untilMs: number): void {
    this.distrustedUntil.set(this.state.url, untilMs);
  }

  /** The URLs remembered as liars now, with when each is forgotten. */
  distrusted(now: number = Date.now()): { url: string; until: number }[] {
    return [...this.distrustedUntil]
      .filter(([, until]) => until > now)
      .map(([i, until]) => ({ url: this.opts.urls[i] ?? "", until }));
  }

  private isDistrusted(url: number, now: number = Date.now()): boolean {
    const until = this.distrustedUntil.get(url);
    if (until === undefined) return false;
    if (until > now) return true;
    this.distrustedUntil.delete(url);
    return false;
  }

  /** Whether the node in use is remembered as a liar. */
  get onLiar(): boolean {
    return this.isDistrusted(this.state.url);
  }

  /** Whether some configured URL is not remembered as a liar. */
  get anyTrusted(): boolean {
    return this.opts.urls.some((_, i) => !this.isDistrusted(i));
  }

  get current(): ConnState {
    return this.state;
  }

  /** The connected socket, if any (undefined while down). */
  get live(): Socket | undefined {
    return isUp(this.state.phase) ? this.socket : undefined;
  }

  /** How many signaling URLs are configured. */
  get urlCount(): number {
    return this.opts.urls.length;
  }

  get url(): string {
    return this.opts.urls[this.state.url] ?? "";
  }

  start(): void {
    this.run(initialEffects(this.state));
  }

  dispatch(e: ConnEvent): void {
    const { state, effects } = step(this.state, e, this.machine);
    const changed = state !== this.state;
    this.state = state;
    this.run(effects);
    if (changed) {
      this.hooks.changed(state);
      for (const w of [...this.waiters]) w();
    }
  }

  /** Tells the machine about `e` only if `socket` is still the one in use (late events of old sockets are void). */
  from(socket: Socket, e: ConnEvent): void {
    if (socket === this.socket) this.dispatch(e);
  }

  /** Resolves with the socket once connected; rejects after `timeoutMs` or when closed. */
  ready(timeoutMs: number): Promise<Socket> {
    const now = this.live;
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const done = () => {
        const s = this.live;
        if (s) finish(() => resolve(s));
        else if (this.state.phase === "closed") finish(() => reject(new Error("closed")));
      };
      const timer = setTimeout(() => finish(() => reject(new Error("timeout"))), Math.max(0, timeoutMs));
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        f();
      };
      this.waiters.add(done);
    });
  }

  private run(effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.do) {
        case "dial":
          this.dial(e.url);
          break;
        case "hang-up":
          this.hangUp(e.why);
          break;
        case "register":
          this.register();
          break;
        case "unregister":
          if (this.socket) this.hooks.unregister(this.socket);
          break;
        case "wait":
          clearTimeout(this.waitTimer);
          this.waitTimer = setTimeout(() => this.dispatch({ type: "timer" }), e.ms);
          break;
        case "cancel-wait":
          clearTimeout(this.waitTimer);
          this.waitTimer = undefined;
          break;
      }
    }
  }

  private dial(index: number): void {
    this.drop();
    const timeout = dialTimeoutMs(this.state.attempt, this.opts.dialTimeoutMs ?? 10_000);
    const socket = io(this.opts.urls[index] ?? "", {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      timeout,
      ...(this.returning && { query: this.returnQuery() }),
    });
    this.socket = socket;
    // socket.io's own timeout ends at the transport's opening; this one also covers the namespace
    // connect a loaded node may be slow to answer.
    const deadline = setTimeout(() => this.from(socket, { type: "lost" }), timeout);
    this.dialDeadline = deadline;
    socket.on("connect", () => {
      clearTimeout(deadline);
      this.returning = true;
      this.from(socket, { type: "connected" });
    });
    socket.on("connect_error", (err: Error & { data?: unknown }) => {
      clearTimeout(deadline);
      const retryAfterMs = overloadedFor(err.data);
      this.from(socket, retryAfterMs === undefined ? { type: "lost" } : { type: "lost", retryAfterMs });
    });
    socket.on("disconnect", () => this.from(socket, { type: "lost" }));
    socket.on("server:shutdown", () => this.from(socket, { type: "server-shutdown" }));
    socket.on("provider:unregistered", () => this.from(socket, { type: "unregistered" }));
    this.hooks.attach(socket);
  }

  private returnQuery(): Record<string, string> {
    const ticket = this.hooks.ticket?.();
    return ticket ? { resume: "1", ticket } : { resume: "1" };
  }

  private register(): void {
    const socket = this.socket;
    if (!socket) return;
    this.hooks.register(socket).then(
      () => this.from(socket, { type: "registered" }),
      (err: unknown) =>
        this.from(socket, {
          type: (err as { code?: unknown })?.code === "SHUTTING_DOWN" ? "server-shutdown" : "register-failed",
        }),
    );
  }

  private hangUp(why: HangUpWhy): void {
    const had = this.drop();
    if (had) this.hooks.hungUp(why);
  }

  private drop(): boolean {
    clearTimeout(this.dialDeadline);
    const old = this.socket;
    if (!old) return false;
    this.socket = undefined;
    old.removeAllListeners();
    old.close();
    return true;
  }
}

/** The `retryAfterMs` of a node's `OVERLOADED` refusal (signaling/admission.ts), if that is what it is. */
function overloadedFor(data: unknown): number | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { code, retryAfterMs } = data as { code?: unknown; retryAfterMs?: unknown };
  if (code !== "OVERLOADED" || typeof retryAfterMs !== "number" || !Number.isFinite(retryAfterMs))
    return undefined;
  return retryAfterMs;
}
