import type { Socket } from "socket.io-client";
import * as v from "valibot";
import {
  DirectorySnapshot,
  encodePublicKey,
  type Feature,
  grantNonce,
  helloOffer,
  type MaxPrice,
  maxPriceToWire,
  type PolicyHint,
  parseWith,
  SessionGranted,
  SessionOffer,
  SessionRequest,
  SilkError,
} from "../protocol";
import type { BackoffConfig, ConnState } from "./connection-machine";
import { ProviderPresence, type ProviderRegistration } from "./provider-presence";
import { type Hello, type ServerKeys, ServerPins } from "./server-pins";
import { type SessionHandlers, type SessionOpener, SessionRouter, type SignalData } from "./session-router";
import { ACK_TIMEOUT_MS, type AckBody, blameServer, callOn, serverMalformed } from "./signaling-ack";
import { SignalingConnection } from "./signaling-connection";
import { ServerRefusalError, SignalingError } from "./signaling-errors";

export type { ProviderRegistration } from "./provider-presence";
export type { GrantSeal, ServerKeys } from "./server-pins";
export type { SessionHandlers, SessionOpener, SignalData } from "./session-router";
export {
  endedBySignaling,
  RelayRefusedError,
  relayRefusedEnd,
  ServerRefusalError,
  SessionEndedNoticeError,
  type SessionEndNotice,
  SessionMovedError,
  SessionNotTakenError,
  SignalingError,
  SignalingLostError,
  sessionEndError,
} from "./signaling-errors";
export type { DirectorySnapshot, SessionGranted, SessionOffer };

/** How long a connection's `server:hello` may take before the server counts as keying nothing. */
const HELLO_TIMEOUT_MS = 5_000;

export interface SignalingClientOptions {
  /** How long `connect` waits for a first connection before it fails with `UNREACHABLE` (ms). */
  readonly timeoutMs?: number;
  readonly backoff?: BackoffConfig;
  /** How long each request waits for the server's ack before a `TIMEOUT` naming the server (ms). */
  readonly ackTimeoutMs?: number;
  /** Told of every connection state change (a page can show "reconnecting"). */
  readonly onState?: (state: ConnState) => void;
  /**
   * Told of failures of what the client does by itself, which no caller awaits: registering again
   * after a reconnect (or to renew its quotes), a heartbeat the server refused, subscribing to the
   * directory again after a reconnect. Each a `SignalingError` naming the server: `SERVER_MALFORMED`
   * for an answer that cannot be read or a refusal in another protocol version (`VERSION`). Not
   * told: a connection that dropped or a node leaving (the client moves on by itself).
   */
  readonly onError?: (e: SignalingError) => void;
  /**
   * Told when the directory is subscribed again after a re-subscription that failed (told to
   * `onError`): once per failure, not at every good one, so a page can take its word down.
   */
  readonly onRecovered?: () => void;
  /**
   * The servers' keys (hex), which every grant must be signed by (server-pins.ts): one for every
   * URL, or one per URL. A URL without one pins the key of its first signed grant.
   */
  readonly serverKey?: ServerKeys;
}

/** Signaling URLs as given: one, several, or one comma-separated string of several. */
export function signalingUrls(given: string | readonly string[]): string[] {
  const list = (typeof given === "string" ? [given] : [...given]).flatMap((u) => u.split(","));
  return list.map((u) => u.trim()).filter((u) => u.length > 0);
}

/**
 * Failures of `directory:subscribe` that are the node's, not the network's: another node is asked.
 * TIMEOUT (no answer in time) and SERVER_MALFORMED (an answer that cannot be read, a VERSION
 * refusal: a broken, lying or other-version node, as for a session request, session-opener.ts).
 * Not DIRECTORY_UNAVAILABLE: moving the connection for the directory while a request waits on it
 * for a grant loses the grant (the request itself moves on that refusal, session-opener.ts).
 */
const DIRECTORY_MOVES: ReadonlySet<string> = new Set(["TIMEOUT", "SERVER_MALFORMED"]);

/** Failures of the client's own work that `onError` is not told: the client moves on by itself. */
const QUIET: ReadonlySet<string> = new Set(["UNREACHABLE", "SHUTTING_DOWN"]);

/** How a request fails when its connection is gone (callOn): asked again on the next one. */
const LEFT_BEHIND: ReadonlySet<string> = new Set(["TIMEOUT", "UNREACHABLE"]);

/**
 * A typed client for the signaling server's events (signaling/README.md), shared by providers
 * and requesters. Everything the server sends is validated before use: the server is not
 * trusted with anything the handshake cannot check, but it must not crash us either.
 * The connection heals itself (`signaling-connection.ts`), a provider's registration and
 * heartbeats live in `provider-presence.ts`, relayed session events in `session-router.ts`.
 */
export class SignalingClient {
  private offerHandler: ((offer: SessionOffer) => Promise<boolean>) | undefined;
  private directoryListener: ((d: DirectorySnapshot) => void) | undefined;
  private readonly pins: ServerPins;
  /** Each connection's `server:hello` (server-pins.ts), said before its first session request. */
  private readonly hellos = new WeakMap<Socket, Promise<Hello>>();
  private readonly greetedOn = new WeakMap<Socket, Hello>();
  private readonly sessions: SessionRouter;
  private readonly conn: SignalingConnection;
  private readonly presence: ProviderPresence;
  /** Connections dialled so far (`links`). */
  private dialled = 0;
  /** A re-subscription in flight, and whether another connection came meanwhile (`resubscribe`). */
  private resubscribing = false;
  private resubscribeAgain = false;
  /** The last re-subscription failed and was told: the next good one is told as a recovery. */
  private resubscribeFailed = false;

  private constructor(
    urls: readonly string[],
    private readonly opts: SignalingClientOptions,
  ) {
    this.pins = new ServerPins(opts.serverKey);
    this.sessions = new SessionRouter((raw, nonce) => {
      const socket = this.conn.live;
      return this.pins.seal(this.url, socket && this.greetedOn.get(socket), raw, nonce);
    });
    this.conn = new SignalingConnection(
      { urls, dialTimeoutMs: opts.timeoutMs, backoff: opts.backoff },
      {
        attach: (socket) => this.attach(socket),
        register: (socket) =>
          this.presence.registerOn(socket).catch((err: unknown) => {
            this.tell(err);
            throw err;
          }),
        unregister: (socket) => this.presence.unregisterOn(socket),
        hungUp: (why) => this.sessions.hungUp(why),
        changed: (state) => this.changed(state),
        ticket: () => this.presence.ticket,
      },
    );
    // Through `tell`, as every failure of the client's own work: a node leaving is not told.
    this.presence = new ProviderPresence(this.conn, (e) => this.tell(e));
  }

  /** A failure of the client's own work, told to `onError` (not a dropped link or a node leaving). */
  private tell(err: unknown): boolean {
    if (!(err instanceof SignalingError) || QUIET.has(err.code)) return false;
    this.opts.onError?.(err);
    return true;
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

  /**
   * A provider's load, told the server now: a direct session it said ended lived on (its peer
   * answered the probe), so the server gave that place back and counts it again only from this.
   */
  reportLoad(): void {
    this.presence.reportLoad();
  }

  /**
   * The node we are connected to lied (a grant that is not the provider's signed quote): it is
   * remembered as a liar for `forMs` (0: not at all), so no later move or reconnect goes back to it
   * meanwhile. With another URL not remembered so, leave for it at once and return true;
   * otherwise stay and return false (the app decides).
   */
  moveOn(forMs: number): boolean {
    if (forMs > 0) this.conn.distrustCurrent(Date.now() + forMs);
    const before = this.conn.current;
    this.conn.dispatch({ type: "distrusted" });
    return this.conn.current !== before;
  }

  /**
   * Nodes caught lying and still remembered, with when each is forgotten; `onLiar`: the one in use
   * is among them (every other was too when the connection last moved).
   */
  get liars(): { onLiar: boolean; anyTrusted: boolean; servers: { url: string; until: number }[] } {
    return { onLiar: this.conn.onLiar, anyTrusted: this.conn.anyTrusted, servers: this.conn.distrusted() };
  }

  /** Leaves a node remembered as a liar for one that is not (a no-op when none is left). */
  leaveLiar(): void {
    if (this.conn.onLiar && this.conn.anyTrusted) this.conn.dispatch({ type: "distrusted" });
  }

  /** Where the connection stands (connecting, registered, reconnecting, …). */
  get state(): ConnState {
    return this.conn.current;
  }

  /**
   * How many connections the client has dialled: a request that sees it change lived through a
   * dropped (or moved) link, so a fresh node's "nobody serves it" may only mean its providers are
   * still registering again.
   */
  get links(): number {
    return this.dialled;
  }

  /** How many signaling URLs are configured. */
  get urlCount(): number {
    return this.conn.urlCount;
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
    this.presence.set(reg, load);
    const socket = await this.ready("provider:register");
    await this.presence.registerOn(socket);
    this.conn.from(socket, { type: "registered" });
  }

  private changed(state: ConnState): void {
    this.presence.changed(state);
    if (state.phase === "connected" || state.phase === "registering") void this.resubscribe();
    this.opts.onState?.(state);
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
    // Fresh per request: the server signs its grants (and moves) for it (protocol/server-grant.ts).
    const nonce = grantNonce();
    const payload = {
      v: 1,
      nonce,
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
    };
    // Checked here first: a request our own schema refuses is ours (MALFORMED, never sent), so the
    // server refusing one it accepts is the server's fault (blameServer in `call`).
    try {
      parseWith(SessionRequest, payload, "session request");
    } catch (err) {
      if (err instanceof SilkError) throw new SignalingError(err.code, err.message);
      throw err;
    }
    const ack = await this.call(
      "session:request",
      payload,
      true,
      (body) => {
        const r = v.safeParse(SessionGranted, body);
        if (!r.success) return;
        // A replayed grant must not open anything, nor end the session it names (maybe live).
        if (!this.sessions.fresh(r.output.sessionId))
          throw new SignalingError(
            "REPLAY",
            `the signaling server at ${this.url} granted session ${r.output.sessionId} again: a replayed grant`,
          );
        grant = r.output;
        this.sessions.opened(grant, body, open, nonce);
      },
      (socket, deadline) => this.greet(socket, deadline),
      true,
    );
    return grant ?? this.readable(SessionGranted, ack, "session:request", "grant");
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

  /**
   * The market now; with `onUpdate`, every change after, kept up across reconnects. A node that
   * does not answer within the ack deadline, or answers what cannot be read, is left for the next
   * configured URL not asked yet (`DIRECTORY_MOVES`); when every one failed, the error names each
   * and what it said.
   */
  async directory(onUpdate?: (d: DirectorySnapshot) => void): Promise<DirectorySnapshot> {
    if (onUpdate) this.directoryListener = onUpdate;
    const failed: string[] = [];
    for (;;) {
      try {
        return this.snapshotOf(
          await this.call("directory:subscribe", { v: 1, subscribe: Boolean(onUpdate) }, true),
        );
      } catch (err) {
        if (!(err instanceof SignalingError) || !DIRECTORY_MOVES.has(err.code)) throw err;
        // Our own findings name the server already (callOn, serverMalformed, blameServer).
        failed.push(
          err instanceof ServerRefusalError
            ? `the signaling server at ${this.url}: ${err.message}`
            : err.message,
        );
        if (failed.length >= this.urlCount || !this.moveOn(0))
          throw failed.length === 1 ? err : new SignalingError(err.code, failed.join("; "));
      }
    }
  }

  /** The directory in a `directory:subscribe` answer, or SERVER_MALFORMED naming the server. */
  private snapshotOf(ack: AckBody): DirectorySnapshot {
    return this.readable(
      DirectorySnapshot,
      (ack as { directory?: unknown }).directory ?? ack,
      "directory:subscribe",
      "directory",
    );
  }

  /** The server's answer to `event` parsed, or SERVER_MALFORMED naming the server and the field. */
  private readable<S extends v.GenericSchema>(
    schema: S,
    body: unknown,
    event: string,
    what: string,
  ): v.InferOutput<S> {
    try {
      return parseWith(schema, body, what);
    } catch (err) {
      throw serverMalformed(this.url, event, (err as Error).message);
    }
  }

  /**
   * A new connection knows nothing of our subscription: subscribe again, and pass on its snapshot.
   * One at a time: connections that come and go while one is in flight (a node accepting and
   * dropping each dial during an outage) ask once more after it, not once each, so a recovering
   * node is not sent a subscription per flap by every client.
   */
  private async resubscribe(): Promise<void> {
    if (this.resubscribing) {
      this.resubscribeAgain = true;
      return;
    }
    this.resubscribing = true;
    try {
      do {
        this.resubscribeAgain = false;
        const listener = this.directoryListener;
        if (!listener) return;
        try {
          listener(this.snapshotOf(await this.call("directory:subscribe", { v: 1, subscribe: true }, true)));
          if (this.resubscribeFailed) {
            this.resubscribeFailed = false;
            this.opts.onRecovered?.();
          }
        } catch (err) {
          // Told (an unreadable answer names the server); the next connection tries again.
          if (this.tell(err)) this.resubscribeFailed = true;
        }
      } while (this.resubscribeAgain);
    } finally {
      this.resubscribing = false;
    }
  }

  /** Routes one session's relayed events to its handlers until `forget` (later calls add handlers). */
  session(sessionId: string, handlers: SessionHandlers): void {
    this.sessions.set(sessionId, handlers);
  }

  forget(sessionId: string): void {
    this.sessions.forget(sessionId);
  }

  /** The provider took the session: a `session:moved` for it from now on is ignored. */
  settled(sessionId: string): void {
    this.sessions.settled(sessionId);
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

  close(): void {
    this.presence.stop();
    this.conn.dispatch({ type: "close" });
  }

  private attach(socket: Socket): void {
    this.dialled++;
    this.sessions.attach(socket);
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
      // A replayed offer would take over the relayed events of the session it names (maybe live).
      if (!this.sessions.fresh(parsed.output.sessionId)) {
        ack?.({ ok: false, reason: "replayed offer" });
        return;
      }
      handler(parsed.output).then(
        (accept) => ack?.(accept ? { ok: true } : { ok: false, reason: "busy" }),
        () => ack?.({ ok: false, reason: "error" }),
      );
    });
  }

  /**
   * Says `server:hello` on `socket`, once: the server key's answer keys the MAC its grants carry
   * (server-pins.ts). A server that does not answer (an older one, or a path that drops it) in
   * HELLO_TIMEOUT_MS keys nothing: with a key pinned, its grants are then refused as tampered.
   */
  private greet(socket: Socket, deadline: number): Promise<Hello> {
    let hello = this.hellos.get(socket);
    if (!hello) {
      const offer = helloOffer();
      const url = this.url;
      hello = callOn(
        socket,
        url,
        "server:hello",
        { v: 1, nonce: offer.nonce, dh: offer.dh },
        Math.min(deadline, Date.now() + HELLO_TIMEOUT_MS),
      ).then(
        (answer) => this.pins.greeted(url, offer, answer),
        (err: unknown) => this.pins.greeted(url, offer, undefined, (err as Error).message),
      );
      void hello.then((h) => this.greetedOn.set(socket, h));
      this.hellos.set(socket, hello);
    }
    return hello;
  }

  private async ready(event: string, deadline = Date.now() + ACK_TIMEOUT_MS): Promise<Socket> {
    try {
      return await this.conn.ready(deadline - Date.now());
    } catch {
      throw new SignalingError(
        "UNREACHABLE",
        `the signaling server at ${this.url} cannot be reached (reconnecting) to send ${event}`,
      );
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
    /** Runs on each connection before the request is sent on it. */
    first?: (socket: Socket, deadline: number) => Promise<unknown>,
    /** `payload` passed its own schema here: refusals that blame it are the server's (blameServer). */
    checked = false,
  ): Promise<AckBody> {
    const deadline = Date.now() + (this.opts.ackTimeoutMs ?? ACK_TIMEOUT_MS);
    for (;;) {
      const socket = await this.ready(event, deadline);
      // The server this socket is to: by the time it fails, `this.url` may name the next one.
      const url = this.url;
      await first?.(socket, deadline);
      try {
        return await callOn(socket, url, event, payload, deadline, onOk);
      } catch (caught) {
        // VERSION, or a refusal blaming a payload checked against its schema here: the server's.
        const err = blameServer(url, event, caught, checked);
        if (!retry || !(err instanceof SignalingError) || Date.now() >= deadline) throw err;
        if (err.code === "SHUTTING_DOWN") this.conn.from(socket, { type: "server-shutdown" });
        // Its connection moved or dropped meanwhile (another request's move, an outage): asked
        // again on the next one, not left on the old socket until the deadline.
        else if (!LEFT_BEHIND.has(err.code) || socket === this.conn.live) throw err;
      }
    }
  }
}
