import { FrameRelay, jsonSize, MAX_FRAME_BYTES, SessionEnd, SessionRequest, SignalRelay } from "../protocol";
import type { ServerContext, SilkSocket } from "./context";
import { SignalingError } from "./errors";
import { guarded, type Listeners } from "./event-guard";
import { parseSessionEnd, parseSessionRequest } from "./hot-schemas";
import { pair } from "./pairing";
import { TokenBucket } from "./rate-limit";
import { isParty, sessionsOf, toOthers } from "./session-parties";
import { endSession, endSessionNow } from "./sessions";

const ENDED = { ok: true } as const;

/**
 * Requester and session events. Relays go only to the session's other party; a socket that is not
 * a party is refused, whatever session id it names.
 */
export function sessionEvents(ctx: ServerContext): Listeners {
  const request = { schema: SessionRequest, parse: parseSessionRequest };
  const requested = guarded(ctx, "session:request", request, (req, socket) => {
    if (ctx.closing)
      throw new SignalingError("SHUTTING_DOWN", "server is shutting down; reconnect elsewhere");
    const now = Date.now();
    if (!socket.data.requests.take(now) || !ctx.ipRequests.take(socket.data.ip, now)) {
      throw new SignalingError("RATE_LIMITED", "too many session requests; retry in a few seconds");
    }
    return pair(ctx, socket, req);
  });

  const signal = guarded(ctx, "session:signal", { schema: SignalRelay }, async (msg, socket) => {
    requireMember(socket, msg.sessionId);
    toOthers(ctx, socket, msg.sessionId, "session:signal", {
      v: msg.v,
      sessionId: msg.sessionId,
      data: msg.data,
    });
    ctx.metrics.relayed.inc({ kind: "signal" });
    return { ok: true };
  });

  const frame = guarded(
    ctx,
    "session:frame",
    { schema: FrameRelay, sizeOf: frameSize, maxBytes: MAX_FRAME_BYTES, chargeRefusalsOnly: true },
    async (msg, socket) => {
      requireMember(socket, msg.sessionId);
      const budget = relayBudget(ctx, socket, msg.sessionId);
      const now = Date.now();
      if (!budget.frames.take(now) || !budget.bytes.take(now, msg.frame.byteLength)) {
        throw new SignalingError("RATE_LIMITED", "relay budget for this session exceeded; slow down");
      }
      toOthers(ctx, socket, msg.sessionId, "session:frame", {
        v: msg.v,
        sessionId: msg.sessionId,
        frame: msg.frame,
      });
      ctx.metrics.relayed.inc({ kind: "frame" });
      return { ok: true };
    },
  );

  const end = guarded(ctx, "session:end", { schema: SessionEnd, parse: parseSessionEnd }, (msg, socket) => {
    requireMember(socket, msg.sessionId);
    socket.data.relay.delete(msg.sessionId);
    const done = endSessionNow(ctx, msg.sessionId, "ended", socket.id);
    return done instanceof Promise ? done.then(() => ENDED) : ENDED;
  });
  return [requested, signal, frame, end];
}

/** Ends every session the socket is part of and tells the other parties (who may fail over). */
export async function endSocketSessions(
  ctx: ServerContext,
  socket: SilkSocket,
  reason: "peer-disconnected" | "shutdown",
) {
  const sessions = sessionsOf(socket)
    // A provider leaving mid-offer: the pairing loop withdraws the offer and moves the requester.
    .filter((id) => reason === "shutdown" || ctx.pendingOffers.get(id) !== socket.id);
  await Promise.all(sessions.map((id) => endSession(ctx, id, reason, socket.id)));
}

function requireMember(socket: SilkSocket, sessionId: string): void {
  if (!isParty(socket, sessionId))
    throw new SignalingError("NOT_IN_SESSION", "this socket is not a party to that session");
}

function relayBudget(ctx: ServerContext, socket: SilkSocket, sessionId: string) {
  let budget = socket.data.relay.get(sessionId);
  if (!budget) {
    // Forget budgets of sessions this socket has left (ended by the peer, perhaps on another node).
    for (const id of socket.data.relay.keys()) if (!isParty(socket, id)) socket.data.relay.delete(id);
    const now = Date.now();
    const { relayBytesPerSecond: bytes, relayFramesPerSecond: frames } = ctx.config;
    budget = {
      // A burst of one second's worth, and never less than one full frame.
      bytes: new TokenBucket({ rate: bytes, burst: Math.max(bytes, MAX_FRAME_BYTES) }, now),
      frames: new TokenBucket({ rate: frames, burst: Math.max(frames, 1) }, now),
    };
    socket.data.relay.set(sessionId, budget);
  }
  return budget;
}

/** Binary frames are measured by their bytes, not by a JSON rendering of them. */
function frameSize(payload: unknown): number {
  if (typeof payload !== "object" || payload === null) return 0;
  const frame = (payload as { frame?: unknown }).frame;
  return frame instanceof Uint8Array ? frame.byteLength : jsonSize(payload);
}
