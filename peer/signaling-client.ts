import type { Socket } from "socket.io-client";
import * as v from "valibot";
import {
  ChannelClosedError,
  type DeviceFacts,
  DirectorySnapshot,
  type ErrorCode,
  encodePublicKey,
  type Feature,
  type KeyPair,
  type MaxPrice,
  maxPriceToWire,
  offerToWire,
  type PolicyHint,
  parseWith,
  type ServedModel,
  SessionEnded,
  SessionGranted,
  SessionMoved,
  SessionOffer,
  signRegistration,
  wireError,
} from "../protocol";
import type { BackoffConfig, ConnState } from "./connection-machine";
import { type HangUpWhy, SignalingConnection } from "./signaling-connection";

/**
 * A typed client for the signaling server's events (signaling/README.md), shared by providers
 * and requesters. Everything the server sends is validated before use: the server is not
 * trusted with anything the handshake cannot check, but it must not crash us either.
 */
export class SignalingError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "SignalingError";
    this.code = code;
  }
}

export interface ProviderRegistration {
  readonly identity: KeyPair;
  readonly payout: string;
  readonly models: readonly ServedModel[];
  readonly capacity: number;
  readonly device: DeviceFacts;
  /** The provider's Registry entry: its owner wallet (which requesters check on chain), stake and registration time. */
  readonly entry?: { readonly owner: string; readonly stake: bigint; readonly registeredAt: number };
}

export type { DirectorySnapshot, SessionGranted, SessionOffer };
export type SignalData = Record<string, unknown>;

/** A requester's session the server moved to another provider before the first one took it. */
export class SessionMovedError extends ChannelClosedError {
  constructor(readonly to: SessionGranted) {
    super("the provider did not take the session; the server moved it to another");
  }
}

/** Why the server ended a session: its `reason`, and for `no-provider` why nobody took it. */
export interface SessionEndNotice {
  readonly reason: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Nobody took a requester's session, after the server's own failover; `why` is a request's error code. */
export class SessionNotTakenError extends ChannelClosedError {
  constructor(
    readonly why: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A session that ran through signaling ended because signaling went away, not the other party:
 * `SHUTTING_DOWN` (the node is leaving), `NODE_LOST` (the other party's node died) or
 * `SIGNALING_LOST` (our own connection dropped). Only relayed sessions end so; direct ones go on.
 */
export class SignalingLostError extends ChannelClosedError {
  constructor(
    readonly why: "SHUTTING_DOWN" | "NODE_LOST" | "SIGNALING_LOST",
    message: string,
  ) {
    super(message);
  }
}

const LOST: Record<string, [SignalingLostError["why"], string]> = {
  shutdown: ["SHUTTING_DOWN", "the signaling node relaying this session is shutting down"],
  "node-lost": ["NODE_LOST", "the other party's signaling node died"],
  "signaling-lost": ["SIGNALING_LOST", "the connection to signaling dropped"],
};

/** Ends that come from signaling going away: a direct session, which needs no server, outlives them. */
export function endedBySignaling(end: SessionEndNotice): boolean {
  return end.reason in LOST;
}

const notTaken = (e: { code: ErrorCode; message: string }) => new SessionNotTakenError(e.code, e.message);

/** The error a party sees for the end of its session: typed by why it ended. */
export function sessionEndError(end: SessionEndNotice): ChannelClosedError {
  const lost = LOST[end.reason];
  if (lost) return new SignalingLostError(lost[0], lost[1]);
  return end.error
    ? notTaken(wireError(end.error, "signaling server"))
    : new ChannelClosedError(`session ended: ${end.reason}`);
}

export interface SessionHandlers {
  signal?: (d: SignalData) => void;
  frame?: (f: Uint8Array) => void;
  ended?: (end: SessionEndNotice) => void;
  moved?: (to: SessionGranted) => void;
}

type SessionEvent =
  | { kind: "signal"; value: SignalData }
  | { kind: "frame"; value: Uint8Array }
  | { kind: "ended"; value: SessionEndNotice }
  | { kind: "moved"; value: SessionGranted };

/**
 * Makes a granted session's handlers (`SignalingClient.session`), called in the very turn the
 * grant (or a move to another provider) is read, before anything that follows it on the socket.
 */
export type SessionOpener = (grant: SessionGranted) => void;

type AckBody = { ok: boolean; error?: { code: string; message: string }; [k: string]: unknown };
const ChallengeAck = v.object({ challenge: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) });
const Ticket = v.optional(v.pipe(v.string(), v.maxLength(120)));
const RegisterAck = v.object({
  heartbeatIntervalMs: v.optional(v.pipe(v.number(), v.minValue(1000))),
  ticket: Ticket,
});

const ACK_TIMEOUT_MS = 15_000;
const DEFAULT_HEARTBEAT_MS = 20_000;
const LOAD_CHECK_MS = 1_000;

export interface SignalingClientOptions {
  /** How long `connect` waits for a first connection before it fails with `UNREACHABLE` (ms). */
  readonly timeoutMs?: number;
  readonly backoff?: BackoffConfig;
  /** Told of every connection state change (a page can show "reconnecting"). */
  readonly onState?: (state: ConnState) => void;
}

/** Signaling URLs as given: one, several, or one comma-separated string of several. */
export function signalingUrls(given: string | readonly string[]): string[] {
  const list = (typeof given === "string" ? [given] : [...given]).flatMap((u) => u.split(","));
  return list.map((u) => u.trim()).filter((u) => u.length > 0);
}

export class SignalingClient {
  private registration: { reg: ProviderRegistration; load: () => number } | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private loadTimer: ReturnType<typeof setInterval> | undefined;
  /** The load the server last heard (a registration starts it at 0). */
  private reportedLoad = 0;
  private offerHandler: ((offer: SessionOffer) => Promise<boolean>) | undefined;
  private directoryListener: ((d: DirectorySnapshot) => void) | undefined;
  /**
   * Each session's handlers, set when the session is made: by the grant's opener (a requester) or
   * by the offer handler before it answers (a provider). Events for any other session are dropped.
   */
  private readonly sessionHandlers = new Map<string, SessionHandlers>();
  /** The opener of each session we asked for, to open where the server moves it. */
  private readonly openers = new Map<string, SessionOpener>();
  private readonly conn: SignalingConnection;
  /** The server's resume ticket for our registration: what admits us first after a restart. */
  private ticket: string | undefined;

  private constructor(
    urls: readonly string[],
    private readonly opts: SignalingClientOptions,
  ) {
    this.conn = new SignalingConnection(
      { urls, dialTimeoutMs: opts.timeoutMs, backoff: opts.backoff },
      {
        attach: (socket) => this.attach(socket),
        register: (socket) => this.registerOn(socket),
        // Unanswered, the server still drops the listing once heartbeats stop.
        unregister: (socket) =>
          void this.callOn(socket, "provider:unregister", { v: 1 }).catch(() => undefined),
        hungUp: (why) => this.hungUp(why),
        changed: (state) => this.changed(state),
        ticket: () => this.ticket,
      },
    );
  }

  /**
   * Connects to the first signaling URL that answers (several may be given, as a list or comma-
   * separated). From then on the connection heals itself: see `connection-machine.ts`.
   */
  static async connect(
    given: string | readonly string[],
    opts: SignalingClientOptions = {},
  ): Promise<SignalingClient> {
    const urls = signalingUrls(given);
    if (urls.length === 0) throw new SignalingError("UNREACHABLE", "no signaling URL given");
    const client = new SignalingClient(urls, opts);
    client.conn.start();
    try {
      await client.conn.ready(opts.timeoutMs ?? 10_000);
    } catch {
      client.close();
      throw new SignalingError("UNREACHABLE", `cannot reach the signaling server at ${urls.join(", ")}`);
    }
    return client;
  }

  /** Where the connection stands (connecting, registered, reconnecting, …). */
  get state(): ConnState {
    return this.conn.current;
  }

  /** The URL of the node in use (or being dialled). */
  get url(): string {
    return this.conn.url;
  }

  /**
   * Registers as a provider: asks for a challenge, signs it with the identity key, keeps heartbeats
   * going. Resolves once listed; from then on the client registers again by itself after every
   * reconnect and whenever the server says it forgot the registration.
   */
  async register(reg: ProviderRegistration, load: () => number = () => 0): Promise<void> {
    this.registration = { reg, load };
    this.ticket = undefined;
    const socket = await this.ready("provider:register");
    await this.registerOn(socket);
    this.conn.from(socket, { type: "registered" });
  }

  private async registerOn(socket: Socket): Promise<void> {
    const r = this.registration;
    if (!r) throw new SignalingError("NOT_REGISTERED", "nothing to register");
    const { reg } = r;
    const challenge = parseWith(
      ChallengeAck,
      await this.callOn(socket, "provider:challenge", { v: 1 }),
      "challenge",
    );
    const body = {
      identityKey: encodePublicKey(reg.identity.publicKey),
      payout: reg.payout,
      models: reg.models.map(offerToWire),
      capacity: reg.capacity,
      device: reg.device,
      ...(reg.entry && { entry: { ...reg.entry, stake: reg.entry.stake.toString() } }),
    };
    let ack: v.InferOutput<typeof RegisterAck>;
    try {
      ack = parseWith(
        RegisterAck,
        await this.callOn(socket, "provider:register", {
          v: 1,
          ...body,
          challenge: challenge.challenge,
          signature: signRegistration(reg.identity.secretKey, challenge.challenge, body),
        }),
        "registration",
      );
    } catch (err) {
      // A refused ticket (another identity's, say) must not be presented again and again.
      if (err instanceof SignalingError && err.code === "BAD_TICKET") this.ticket = undefined;
      throw err;
    }
    this.heartbeatMs = ack.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.ticket = ack.ticket;
  }

  private changed(state: ConnState): void {
    this.stopHeartbeats();
    if (state.phase === "registered") {
      // A registration starts at load 0, while sessions that outlived a reconnect (direct ones)
      // hold places: the server hears the load at once, and within a second of every change
      // after, so no place it counts stays busy (or free) for a whole heartbeat interval.
      this.reportedLoad = 0;
      const reportChange = () => {
        if (this.registration && this.registration.load() !== this.reportedLoad) this.heartbeat();
      };
      reportChange();
      this.loadTimer = setInterval(reportChange, LOAD_CHECK_MS);
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    }
    if (state.phase === "connected" || state.phase === "registering") void this.resubscribe();
    this.opts.onState?.(state);
  }

  /** A heartbeat is answered: `NOT_REGISTERED` means register again, silence means the node is gone. */
  private heartbeat(): void {
    const socket = this.conn.live;
    const r = this.registration;
    if (!socket || !r) return;
    const wait = Math.min(ACK_TIMEOUT_MS, this.heartbeatMs);
    const load = r.load();
    this.reportedLoad = load;
    socket
      .timeout(wait)
      .emitWithAck("provider:heartbeat", { v: 1, load: Math.min(64, load) })
      .then(
        (ack: AckBody) => {
          if (ack?.ok === false && ack.error?.code === "NOT_REGISTERED")
            this.conn.from(socket, { type: "unregistered" });
          const renewed = v.safeParse(Ticket, ack?.ticket);
          if (ack?.ok === true && renewed.success && renewed.output) this.ticket = renewed.output;
        },
        () => this.conn.from(socket, { type: "lost" }),
      );
  }

  /**
   * Stops being listed while staying connected (sessions already open go on, relayed ones too):
   * no server counts or pairs this provider until `resume` registers it again.
   */
  pause(): void {
    this.conn.dispatch({ type: "pause" });
  }

  resume(): void {
    this.conn.dispatch({ type: "resume" });
  }

  /** Offers from the server; the handler's answer (accept or not) is the ack. */
  onOffer(handler: (offer: SessionOffer) => Promise<boolean>): void {
    this.offerHandler = handler;
  }

  /**
   * Asks for a session. `open` makes its handlers in the turn the grant is read (the provider's
   * first signals may be right behind it in the same read), and again for each provider the
   * server moves it to; the promise settles later, after that turn.
   */
  async requestSession(
    req: {
      model: string;
      maxPrice: MaxPrice;
      sessionKey: Uint8Array;
      exclude?: readonly string[];
      needs?: readonly Feature[];
      policy?: PolicyHint;
      minAuditsPassed?: number;
    },
    open: SessionOpener,
  ): Promise<SessionGranted> {
    let grant: SessionGranted | undefined;
    const ack = await this.call(
      "session:request",
      {
        v: 1,
        model: req.model,
        maxPrice: maxPriceToWire(req.maxPrice),
        sessionKey: encodePublicKey(req.sessionKey),
        ...(req.exclude && req.exclude.length > 0 ? { exclude: [...req.exclude] } : {}),
        ...(req.needs && req.needs.length > 0 ? { needs: [...req.needs] } : {}),
        ...(req.policy && {
          policy: {
            minStake: req.policy.minStake.toString(),
            minAgeSeconds: req.policy.minAgeSeconds,
            ...(req.policy.allow && { allow: [...req.policy.allow] }),
          },
        }),
        ...(req.minAuditsPassed && { minAuditsPassed: req.minAuditsPassed }),
      },
      true,
      (body) => {
        const r = v.safeParse(SessionGranted, body);
        if (!r.success) return;
        grant = r.output;
        this.openers.set(grant.sessionId, open);
        open(grant);
      },
    );
    return grant ?? parseWith(SessionGranted, ack, "session grant");
  }

  /**
   * Sends an audit report (protocol/audit-report.ts); resolves with the provider's counts for the
   * model once the server has checked it, rejects with `REPORT_REFUSED` when the evidence fails.
   */
  async reportAudit(report: unknown): Promise<{ counted: boolean; passed: number; failed: number }> {
    const ack = (await this.call("audit:report", { v: 1, report }, true)) as Record<string, unknown>;
    const count = (x: unknown) => (typeof x === "number" && Number.isInteger(x) && x >= 0 ? x : 0);
    return { counted: ack.counted === true, passed: count(ack.passed), failed: count(ack.failed) };
  }

  /** The market now; with `onUpdate`, every change after, kept up across reconnects. */
  async directory(onUpdate?: (d: DirectorySnapshot) => void): Promise<DirectorySnapshot> {
    if (onUpdate) this.directoryListener = onUpdate;
    const ack = await this.call("directory:subscribe", { v: 1, subscribe: Boolean(onUpdate) }, true);
    return parseWith(DirectorySnapshot, (ack as { directory?: unknown }).directory ?? ack, "directory");
  }

  /** A new connection knows nothing of our subscription: subscribe again, and pass on its snapshot. */
  private async resubscribe(): Promise<void> {
    const listener = this.directoryListener;
    if (!listener) return;
    try {
      const ack = await this.call("directory:subscribe", { v: 1, subscribe: true }, true);
      const r = v.safeParse(DirectorySnapshot, (ack as { directory?: unknown }).directory);
      if (r.success) listener(r.output);
    } catch {
      // The next connection tries again.
    }
  }

  /** Routes one session's relayed events to its handlers until `forget` (later calls add handlers). */
  session(sessionId: string, handlers: SessionHandlers): void {
    this.sessionHandlers.set(sessionId, { ...this.sessionHandlers.get(sessionId), ...handlers });
  }

  forget(sessionId: string): void {
    this.sessionHandlers.delete(sessionId);
    this.openers.delete(sessionId);
  }

  private route(sessionId: string, e: SessionEvent): void {
    const handler = this.sessionHandlers.get(sessionId)?.[e.kind] as
      | ((value: SessionEvent["value"]) => void)
      | undefined;
    handler?.(e.value);
  }

  /** The server moved a session we asked for: the new one is opened before the old one hears. */
  private moved(sessionId: string, to: SessionGranted): void {
    const open = this.openers.get(sessionId);
    if (open && !this.sessionHandlers.has(to.sessionId)) {
      this.openers.set(to.sessionId, open);
      open(to);
    }
    this.route(sessionId, { kind: "moved", value: to });
  }

  /**
   * The socket is gone, and with it every session's room: each session hears why (a relayed one
   * ends with a typed error; a direct one needs no server and goes on, see connect-peer.ts).
   */
  private hungUp(why: HangUpWhy): void {
    this.openers.clear();
    if (why === "closed") return;
    const reason = why === "shutdown" ? "shutdown" : "signaling-lost";
    const sessions = [...this.sessionHandlers.entries()];
    this.sessionHandlers.clear();
    for (const [, h] of sessions) h.ended?.({ reason });
  }

  sendSignal(sessionId: string, data: SignalData): void {
    this.conn.live?.emit("session:signal", { v: 1, sessionId, data });
  }

  /** Relays one ciphertext frame; resolves when the server has taken it (its rate limit applies). */
  async sendFrame(sessionId: string, frame: Uint8Array): Promise<void> {
    await this.call("session:frame", { v: 1, sessionId, frame }, false);
  }

  endSession(sessionId: string, reason?: string): void {
    this.conn.live?.emit("session:end", {
      v: 1,
      sessionId,
      ...(reason ? { reason: reason.slice(0, 200) } : {}),
    });
    this.forget(sessionId);
  }

  private stopHeartbeats(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.loadTimer);
    this.heartbeatTimer = undefined;
    this.loadTimer = undefined;
  }

  close(): void {
    this.stopHeartbeats();
    this.conn.dispatch({ type: "close" });
  }

  private attach(socket: Socket): void {
    socket.on("session:signal", (msg: unknown) => {
      const m = msg as { sessionId?: unknown; data?: unknown };
      if (typeof m?.sessionId !== "string" || typeof m.data !== "object" || m.data === null) return;
      this.route(m.sessionId, { kind: "signal", value: m.data as SignalData });
    });
    socket.on("session:frame", (msg: unknown) => {
      const m = msg as { sessionId?: unknown; frame?: unknown };
      if (typeof m?.sessionId !== "string") return;
      const frame = toBytes(m.frame);
      if (frame) this.route(m.sessionId, { kind: "frame", value: frame });
    });
    socket.on("session:ended", (msg: unknown) => {
      const r = v.safeParse(SessionEnded, msg);
      if (!r.success) return;
      const { sessionId, reason, error } = r.output;
      this.route(sessionId, { kind: "ended", value: error ? { reason, error } : { reason } });
    });
    socket.on("session:moved", (msg: unknown) => {
      const r = v.safeParse(SessionMoved, msg);
      if (r.success) this.moved(r.output.sessionId, r.output.to);
    });
    socket.on("directory:update", (msg: unknown) => {
      const r = v.safeParse(DirectorySnapshot, msg);
      if (r.success) this.directoryListener?.(r.output);
    });
    socket.on("session:offer", (msg: unknown, ack?: (reply: unknown) => void) => {
      const parsed = v.safeParse(SessionOffer, msg);
      const handler = this.offerHandler;
      if (!parsed.success || !handler) {
        ack?.({ ok: false, reason: parsed.success ? "busy" : "malformed offer" });
        return;
      }
      handler(parsed.output).then(
        (accept) => ack?.(accept ? { ok: true } : { ok: false, reason: "busy" }),
        () => ack?.({ ok: false, reason: "error" }),
      );
    });
  }

  private async ready(event: string, deadline = Date.now() + ACK_TIMEOUT_MS): Promise<Socket> {
    try {
      return await this.conn.ready(deadline - Date.now());
    } catch {
      throw new SignalingError("UNREACHABLE", `no signaling server to send ${event} to`);
    }
  }

  /**
   * One request and its ack. With `retry`, a request whose connection dropped, or whose node is
   * shutting down, is asked again on the next connection (within the same deadline), so callers
   * move with the client instead of failing against a node that is leaving.
   */
  private async call(
    event: string,
    payload: unknown,
    retry: boolean,
    onOk?: (ack: AckBody) => void,
  ): Promise<AckBody> {
    const deadline = Date.now() + ACK_TIMEOUT_MS;
    for (;;) {
      const socket = await this.ready(event, deadline);
      try {
        return await this.callOn(socket, event, payload, deadline, onOk);
      } catch (err) {
        if (!retry || !(err instanceof SignalingError) || Date.now() >= deadline) throw err;
        if (err.code === "SHUTTING_DOWN") this.conn.from(socket, { type: "server-shutdown" });
        else if (err.code !== "TIMEOUT" || socket === this.conn.live) throw err;
      }
    }
  }

  /** `onOk` runs in the ack's own turn, before anything that came after it on the socket. */
  private callOn(
    socket: Socket,
    event: string,
    payload: unknown,
    deadline = Date.now() + ACK_TIMEOUT_MS,
    onOk?: (ack: AckBody) => void,
  ): Promise<AckBody> {
    return new Promise((resolve, reject) => {
      socket
        .timeout(Math.max(1, deadline - Date.now()))
        .emit(event, payload, (err: unknown, ack: unknown) => {
          try {
            if (err) throw new SignalingError("TIMEOUT", `the signaling server did not answer ${event}`);
            const body = checkedAck(event, ack);
            onOk?.(body);
            resolve(body);
          } catch (e) {
            reject(e);
          }
        });
    });
  }
}

/** An ack that is an object and says ok; a refusal becomes its typed error. */
function checkedAck(event: string, ack: unknown): AckBody {
  if (!ack || typeof ack !== "object") throw new SignalingError("MALFORMED", `bad answer to ${event}`);
  const body = ack as AckBody;
  if (body.ok) return body;
  const e = wireError(
    typeof body.error?.code === "string" && typeof body.error.message === "string"
      ? { code: body.error.code, message: body.error.message.slice(0, 500) }
      : { code: "INTERNAL", message: `${event} refused` },
    "signaling server",
  );
  throw new SignalingError(e.code, e.message);
}

function toBytes(x: unknown): Uint8Array | undefined {
  if (x instanceof Uint8Array) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  return undefined;
}
