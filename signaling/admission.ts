import type { IncomingMessage } from "node:http";
import type { ExtendedError } from "socket.io";
import { PROTOCOL_VERSION } from "../protocol";
import { AdmissionGate, type Verdict } from "./admission-gate";
import type { ServerContext, SilkSocket } from "./context";
import { KeyedBuckets } from "./rate-limit";
import type { TicketClaim } from "./resume-tickets";

/**
 * Who gets a connection: the origin list, the per-IP limit (with resume tickets past it in a
 * reconnect storm, resume-tickets.ts), and the node's own load (admission-gate.ts). Refusals for
 * the limit are HTTP refusals before the WebSocket upgrade, as cheap as a refusal gets; a refusal
 * for load is a socket.io `connect_error` whose `data` is `{ code: "OVERLOADED", retryAfterMs }`,
 * so the client can read it (a browser cannot read an upgrade's HTTP status) and come back then.
 * It costs the client nothing it would need later: no ticket admission, no share of the address's
 * budget.
 */
export interface Admission {
  readonly allowRequest: (req: IncomingMessage, callback: (err: string | null, ok: boolean) => void) => void;
  /** socket.io middleware: turns away the connections `allowRequest` found the node too loaded for. */
  readonly middleware: (socket: SilkSocket, next: (err?: ExtendedError) => void) => void;
  /** The ticket the socket's handshake came in on, if one let it past the limit. */
  ticketOf(socket: SilkSocket): TicketClaim | undefined;
  /** The socket's provider registered, or the socket left: it no longer waits to register. */
  settled(socket: SilkSocket, registered: boolean): void;
  readonly gate: AdmissionGate;
  /** Samples the event loop and prunes the limits' memory until `stop`. */
  start(): void;
  stop(): void;
}

export interface OverloadedData {
  readonly v: number;
  readonly code: "OVERLOADED";
  readonly message: string;
  readonly retryAfterMs: number;
}

const LAG_SAMPLE_MS = 100;

export function admission(ctx: ServerContext): Admission {
  const { config } = ctx;
  const ipConnections = new KeyedBuckets({
    rate: config.ipConnectionsPerMinute / 60,
    burst: config.ipConnectionBurst,
  });
  const ipReconnections = new KeyedBuckets({
    rate: config.ipConnectionsPerMinute / 60,
    burst: config.ipReconnectBurst,
  });
  const allowed = new Set(config.allowedOrigins);
  /** The ticket each admitted handshake came in on (engine.io hands the same request to the socket). */
  const admittedBy = new WeakMap<IncomingMessage, TicketClaim>();
  const overloaded = new WeakMap<IncomingMessage, Extract<Verdict, { ok: false }>>();
  const gate = new AdmissionGate(
    {
      lagLimitMs: config.overloadLagMs,
      minPending: config.overloadMinPending,
      drainMs: config.overloadDrainMs,
    },
    Date.now(),
  );
  /** How late the sampling timer fires, smoothed (ms): a loop behind on its I/O runs timers late. */
  let lateMs = 0;
  const timers: NodeJS.Timeout[] = [];

  const allowRequest: Admission["allowRequest"] = (req, callback) => {
    const origin = req.headers.origin;
    if (origin && allowed.size > 0 && !allowed.has(origin)) return callback("origin not allowed", false);
    const ip = clientIp(req, config.trustProxy);
    const now = Date.now();
    const ticket = now < ctx.welcomeBackUntil ? ctx.tickets.admit(ticketOf(req), now) : undefined;
    // A ticket's retries (handshakes that timed out on a swamped node) cost the address nothing
    // more: the 10,000-provider storm spent a 20,000 budget on them and was refused.
    const spendsReconnect = ticket?.first === true;
    if (!(ticket ? !spendsReconnect || ipReconnections.take(ip, now) : ipConnections.take(ip, now))) {
      if (ticket) ctx.tickets.giveBack(ticket.id);
      ctx.metrics.connections.inc({ outcome: "refused" });
      return callback("too many connections", false);
    }
    // A storm still arriving keeps its window open: each valid ticket (signed at a registration,
    // not a mere claim) proves it goes on, however slowly a swamped node gets to registering it.
    if (ticket) ctx.welcomeBackUntil = Math.max(ctx.welcomeBackUntil, now + config.reconnectWindowMs);
    const verdict = gate.verdict(now, ticket !== undefined);
    if (!verdict.ok) {
      // Turned away for load, the ticket and the address keep what they would have spent; a bare
      // connection keeps its cost (a handshake the node still had to make).
      if (ticket) {
        ctx.tickets.giveBack(ticket.id);
        if (spendsReconnect) ipReconnections.giveBack(ip, now);
      }
      overloaded.set(req, verdict);
      ctx.metrics.connections.inc({ outcome: "overloaded" });
      ctx.metrics.overloaded.inc({ why: verdict.why });
      return callback(null, true);
    }
    ctx.metrics.connections.inc({ outcome: ticket ? "ticket" : "admitted" });
    if (ticket) {
      admittedBy.set(req, { identityKey: ticket.identityKey, id: ticket.id });
      gate.admitted(req, now);
      // A client that gave up before its handshake was finished never becomes a socket: its
      // connection closing is what takes it off the backlog (it held the gate shut for 30 s).
      req.socket.once("close", () => gate.settled(req, false, Date.now()));
    }
    callback(null, true);
  };

  const middleware: Admission["middleware"] = (socket, next) => {
    const verdict = overloaded.get(socket.request);
    if (!verdict) return next();
    const data: OverloadedData = {
      v: PROTOCOL_VERSION,
      code: "OVERLOADED",
      message: `this signaling node is overloaded (${verdict.why}); come back in ${verdict.retryAfterMs} ms`,
      retryAfterMs: verdict.retryAfterMs,
    };
    const err: ExtendedError = Object.assign(new Error("OVERLOADED"), { data });
    next(err);
    // The refusal is written; a client that stays anyway is not kept for socket.io's 45 s.
    setTimeout(() => socket.conn.close(), 2_000).unref();
  };

  return {
    allowRequest,
    middleware,
    gate,
    ticketOf: (socket) => admittedBy.get(socket.request),
    settled: (socket, registered) => gate.settled(socket.request, registered, Date.now()),
    start() {
      let last = performance.now();
      timers.push(
        setInterval(() => {
          const now = performance.now();
          lateMs = 0.7 * lateMs + 0.3 * Math.max(0, now - last - LAG_SAMPLE_MS);
          last = now;
          gate.lag(lateMs);
        }, LAG_SAMPLE_MS),
        setInterval(() => {
          const now = Date.now();
          ipConnections.prune(now);
          ipReconnections.prune(now);
        }, 60_000),
      );
      for (const t of timers) t.unref();
    },
    stop() {
      for (const t of timers.splice(0)) clearInterval(t);
    },
  };
}

function ticketOf(req: IncomingMessage): string | undefined {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  if (q < 0 || url.length > 2048) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get("ticket") ?? undefined;
}

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers["x-forwarded-for"];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
    if (first) return first.slice(0, 64);
  }
  return req.socket.remoteAddress ?? "unknown";
}
