import { io, type Socket } from "socket.io-client";
import * as v from "valibot";
import {
  ChannelClosedError,
  type DeviceFacts,
  DirectorySnapshot,
  type ErrorCode,
  encodePublicKey,
  type KeyPair,
  knownCode,
  type MaxPrice,
  type ModelPrice,
  maxPriceToWire,
  type PolicyHint,
  parseWith,
  priceToWire,
  SessionEnded,
  SessionGranted,
  SessionMoved,
  SessionOffer,
  signRegistration,
} from "../protocol";

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
  readonly models: readonly { model: string; price: ModelPrice }[];
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

/** The error a party sees for the end of its session: typed when the server said why nobody took it. */
export function sessionEndError(end: SessionEndNotice): ChannelClosedError {
  return end.error
    ? new SessionNotTakenError(knownCode(end.error.code), end.error.message)
    : new ChannelClosedError(`session ended: ${end.reason}`);
}

export interface SessionHandlers {
  signal?: (d: SignalData) => void;
  frame?: (f: Uint8Array) => void;
  ended?: (end: SessionEndNotice) => void;
  moved?: (to: SessionGranted) => void;
}

type EarlyEvent =
  | { kind: "signal"; value: SignalData }
  | { kind: "frame"; value: Uint8Array }
  | { kind: "ended"; value: SessionEndNotice }
  | { kind: "moved"; value: SessionGranted };

const EARLY_TTL_MS = 30_000;
const EARLY_MAX_SESSIONS = 32;
const EARLY_MAX_EVENTS = 128;

type AckBody = { ok: boolean; error?: { code: string; message: string }; [k: string]: unknown };
const ChallengeAck = v.object({ challenge: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) });
const RegisterAck = v.object({ heartbeatIntervalMs: v.optional(v.pipe(v.number(), v.minValue(1000))) });

const ACK_TIMEOUT_MS = 15_000;

export class SignalingClient {
  private registration: ProviderRegistration | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly sessionHandlers = new Map<string, SessionHandlers>();
  /**
   * Events for a session that nobody listens to yet: the other side may signal (or give up on
   * WebRTC) before our grant has even been read. Bounded, and dropped after a while.
   */
  private readonly early = new Map<string, { at: number; events: EarlyEvent[] }>();

  private constructor(readonly socket: Socket) {
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
      if (r.success) this.route(r.output.sessionId, { kind: "moved", value: r.output.to });
    });
    // Background tabs get throttled and time out: re-register after every reconnect.
    socket.io.on("reconnect", () => {
      if (this.registration) void this.register(this.registration).catch(() => undefined);
    });
  }

  static connect(url: string, opts: { timeoutMs?: number } = {}): Promise<SignalingClient> {
    const socket = io(url, {
      transports: ["websocket"],
      reconnection: true,
      timeout: opts.timeoutMs ?? 10_000,
    });
    return new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(new SignalingClient(socket)));
      socket.once("connect_error", (err: Error) => {
        socket.close();
        reject(
          new SignalingError("UNREACHABLE", `cannot reach the signaling server at ${url}: ${err.message}`),
        );
      });
    });
  }

  /** Registers as a provider: asks for a challenge, signs it with the identity key, keeps heartbeats going. */
  async register(reg: ProviderRegistration, load: () => number = () => 0): Promise<void> {
    const challenge = parseWith(ChallengeAck, await this.call("provider:challenge", { v: 1 }), "challenge");
    const body = {
      identityKey: encodePublicKey(reg.identity.publicKey),
      payout: reg.payout,
      models: reg.models.map((m) => ({ model: m.model, price: priceToWire(m.price) })),
      capacity: reg.capacity,
      device: reg.device,
      ...(reg.entry && { entry: { ...reg.entry, stake: reg.entry.stake.toString() } }),
    };
    const ack = parseWith(
      RegisterAck,
      await this.call("provider:register", {
        v: 1,
        ...body,
        challenge: challenge.challenge,
        signature: signRegistration(reg.identity.secretKey, challenge.challenge, body),
      }),
      "registration",
    );
    this.registration = reg;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      this.socket.emit("provider:heartbeat", { v: 1, load: Math.min(64, load()) });
    }, ack.heartbeatIntervalMs ?? 20_000);
  }

  /** Offers from the server; the handler's answer (accept or not) is the ack. */
  onOffer(handler: (offer: SessionOffer) => Promise<boolean>): void {
    this.socket.on("session:offer", (msg: unknown, ack?: (reply: unknown) => void) => {
      const parsed = v.safeParse(SessionOffer, msg);
      if (!parsed.success) {
        ack?.({ ok: false, reason: "malformed offer" });
        return;
      }
      handler(parsed.output).then(
        (accept) => ack?.(accept ? { ok: true } : { ok: false, reason: "busy" }),
        () => ack?.({ ok: false, reason: "error" }),
      );
    });
  }

  async requestSession(req: {
    model: string;
    maxPrice: MaxPrice;
    sessionKey: Uint8Array;
    exclude?: readonly string[];
    policy?: PolicyHint;
  }): Promise<SessionGranted> {
    const ack = await this.call("session:request", {
      v: 1,
      model: req.model,
      maxPrice: maxPriceToWire(req.maxPrice),
      sessionKey: encodePublicKey(req.sessionKey),
      ...(req.exclude && req.exclude.length > 0 ? { exclude: [...req.exclude] } : {}),
      ...(req.policy && {
        policy: {
          minStake: req.policy.minStake.toString(),
          minAgeSeconds: req.policy.minAgeSeconds,
          ...(req.policy.allow && { allow: [...req.policy.allow] }),
        },
      }),
    });
    return parseWith(SessionGranted, ack, "session grant");
  }

  async directory(onUpdate?: (d: DirectorySnapshot) => void): Promise<DirectorySnapshot> {
    if (onUpdate) {
      this.socket.on("directory:update", (msg: unknown) => {
        const r = v.safeParse(DirectorySnapshot, msg);
        if (r.success) onUpdate(r.output);
      });
    }
    const ack = await this.call("directory:subscribe", { v: 1, subscribe: Boolean(onUpdate) });
    return parseWith(DirectorySnapshot, (ack as { directory?: unknown }).directory ?? ack, "directory");
  }

  /** Routes one session's relayed events to its handlers until `forget`. */
  session(sessionId: string, handlers: SessionHandlers): void {
    const merged = { ...this.sessionHandlers.get(sessionId), ...handlers };
    this.sessionHandlers.set(sessionId, merged);
    const early = this.early.get(sessionId);
    if (!early) return;
    const waiting = early.events;
    early.events = [];
    for (const e of waiting) this.route(sessionId, e);
    if (early.events.length === 0) this.early.delete(sessionId);
  }

  forget(sessionId: string): void {
    this.sessionHandlers.delete(sessionId);
    this.early.delete(sessionId);
  }

  private route(sessionId: string, e: EarlyEvent): void {
    const h = this.sessionHandlers.get(sessionId);
    const handler = h?.[e.kind] as ((value: EarlyEvent["value"]) => void) | undefined;
    if (handler) {
      handler(e.value);
      return;
    }
    const now = Date.now();
    for (const [id, entry] of this.early) if (now - entry.at > EARLY_TTL_MS) this.early.delete(id);
    let entry = this.early.get(sessionId);
    if (!entry) {
      if (this.early.size >= EARLY_MAX_SESSIONS) return;
      entry = { at: now, events: [] };
      this.early.set(sessionId, entry);
    }
    if (entry.events.length < EARLY_MAX_EVENTS) entry.events.push(e);
  }

  sendSignal(sessionId: string, data: SignalData): void {
    this.socket.emit("session:signal", { v: 1, sessionId, data });
  }

  /** Relays one ciphertext frame; resolves when the server has taken it (its rate limit applies). */
  async sendFrame(sessionId: string, frame: Uint8Array): Promise<void> {
    await this.call("session:frame", { v: 1, sessionId, frame });
  }

  endSession(sessionId: string, reason?: string): void {
    this.socket.emit("session:end", { v: 1, sessionId, ...(reason ? { reason: reason.slice(0, 200) } : {}) });
    this.forget(sessionId);
  }

  close(): void {
    clearInterval(this.heartbeatTimer);
    this.socket.close();
  }

  private async call(event: string, payload: unknown): Promise<AckBody> {
    let ack: AckBody;
    try {
      ack = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as AckBody;
    } catch {
      throw new SignalingError("TIMEOUT", `the signaling server did not answer ${event}`);
    }
    if (!ack || typeof ack !== "object") throw new SignalingError("MALFORMED", `bad answer to ${event}`);
    if (!ack.ok)
      throw new SignalingError(
        knownCode(ack.error?.code ?? "INTERNAL"),
        ack.error?.message ?? `${event} refused`,
      );
    return ack;
  }
}

function toBytes(x: unknown): Uint8Array | undefined {
  if (x instanceof Uint8Array) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  return undefined;
}
