import type { Socket } from "socket.io-client";
import * as v from "valibot";
import { SessionEnded, type SessionGranted, SessionMoved } from "../protocol";
import type { GrantSeal } from "./server-pins";
import type { HangUpWhy } from "./signaling-connection";
import type { SessionEndNotice } from "./signaling-errors";

export type SignalData = Record<string, unknown>;

export interface SessionHandlers {
  signal?: (d: SignalData) => void;
  frame?: (f: Uint8Array) => void;
  ended?: (end: SessionEndNotice) => void;
  moved?: (to: SessionGranted) => void;
}

/**
 * Makes a granted session's handlers (`SignalingClient.session`), called in the very turn the
 * grant (or a move to another provider) is read, before anything that follows it on the socket;
 * `seal` says whether the server key vouches for it (server-pins.ts).
 */
export type SessionOpener = (grant: SessionGranted, seal: GrantSeal) => void;

/** Checks a grant as it came off the wire against the server key, for the request's nonce. */
export type GrantSealer = (raw: unknown, nonce: string) => GrantSeal;

/** How many granted session ids are remembered to refuse replays (about 100 KB). */
const GRANTS_KEPT = 4096;

/**
 * Moves one request follows, across the chain of sessions the server moves it through (the
 * server's own failover makes a handful); each prepares a channel and a Registry check.
 */
export const MAX_MOVES = 8;

type SessionEvent =
  | { kind: "signal"; value: SignalData }
  | { kind: "frame"; value: Uint8Array }
  | { kind: "ended"; value: SessionEndNotice }
  | { kind: "moved"; value: SessionGranted };

/**
 * Routes each session's relayed events (signals, frames, its end, a move) to the handlers made
 * for it. Everything the server sends is validated first; events for a session with no handlers
 * are dropped, so a server cannot open a session we did not ask for or take.
 */
export class SessionRouter {
  /** Set when the session is made: by the grant's opener (a requester) or the offer handler (a provider). */
  private readonly handlers = new Map<string, SessionHandlers>();
  /**
   * The opener of each session we asked for, to open where the server moves it, the moves so far,
   * and its request's nonce (a move's grant is signed for it too).
   */
  private readonly openers = new Map<string, { open: SessionOpener; nonce: string; moves: number }>();
  /**
   * Session ids granted or offered to us (the newest GRANTS_KEPT): a grant, move or offer naming
   * one again is a replay.
   */
  private readonly granted = new Set<string>();

  constructor(private readonly sealer: GrantSealer) {}

  /** Whether `sessionId` was never granted to us before; it counts as granted from now on. */
  fresh(sessionId: string): boolean {
    if (this.granted.has(sessionId) || this.handlers.has(sessionId)) return false;
    this.granted.add(sessionId);
    if (this.granted.size > GRANTS_KEPT) this.granted.delete(this.granted.values().next().value as string);
    return true;
  }

  /** Adds handlers for one session (later calls add to them) until `forget`. */
  set(sessionId: string, handlers: SessionHandlers): void {
    this.handlers.set(sessionId, { ...this.handlers.get(sessionId), ...handlers });
  }

  /**
   * A grant we asked for (`raw` as it came off the wire) with `nonce`: its opener makes its
   * handlers now, and again wherever it moves.
   */
  opened(grant: SessionGranted, raw: unknown, open: SessionOpener, nonce: string, moves = 0): void {
    this.openers.set(grant.sessionId, { open, nonce, moves });
    open(grant, this.sealer(raw, nonce));
  }

  forget(sessionId: string): void {
    this.handlers.delete(sessionId);
    this.openers.delete(sessionId);
  }

  /** The provider has taken the session (the handshake passed): the server can no longer move it. */
  settled(sessionId: string): void {
    this.openers.delete(sessionId);
  }

  /**
   * The socket is gone, and with it every session's room: each session hears why (a relayed one
   * ends with a typed error; a direct one needs no server and goes on, see connect-peer.ts).
   */
  hungUp(why: HangUpWhy): void {
    this.openers.clear();
    if (why === "closed") return;
    const reason = why === "shutdown" ? "shutdown" : "signaling-lost";
    const sessions = [...this.handlers.values()];
    this.handlers.clear();
    for (const h of sessions) h.ended?.({ reason });
  }

  attach(socket: Socket): void {
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
      if (r.success) this.moved(r.output.sessionId, r.output.to, (msg as { to: unknown }).to);
    });
  }

  private route(sessionId: string, e: SessionEvent): void {
    const handler = this.handlers.get(sessionId)?.[e.kind] as
      | ((value: SessionEvent["value"]) => void)
      | undefined;
    handler?.(e.value);
  }

  /**
   * The server moved a session we asked for and the provider has not taken: the new one is opened
   * before the old one hears. A move of any other session (settled, or never ours) is a lie, and so
   * is a move to a session id granted to us before (a replay: following it would make a channel
   * for that session, maybe live, and take its relayed events over): both are ignored. A session
   * moves once, and a request at most MAX_MOVES times: each move followed prepares a channel, so
   * a flood of moves must not open one each.
   */
  private moved(sessionId: string, to: SessionGranted, raw: unknown): void {
    const opener = this.openers.get(sessionId);
    if (!opener || opener.moves >= MAX_MOVES || !this.fresh(to.sessionId)) return;
    this.openers.delete(sessionId);
    this.opened(to, raw, opener.open, opener.nonce, opener.moves + 1);
    this.route(sessionId, { kind: "moved", value: to });
  }
}

function toBytes(x: unknown): Uint8Array | undefined {
  if (x instanceof Uint8Array) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  return undefined;
}
