import * as v from "valibot";
import { OfferReply, PROTOCOL_VERSION, priceToWire, type SessionRequest } from "../protocol";
import type { ServerContext, SilkSocket } from "./context";
import { sessionRoom } from "./context";
import { SignalingError } from "./errors";
import type { AckBody } from "./event-guard";
import { type Candidate, rankProviders } from "./matchmaking";
import { endSession, newSessionId } from "./sessions";

/**
 * The pairing loop for one `session:request`: rank, reserve atomically, offer, and on silence or
 * refusal move on to the next provider, up to `maxOfferAttempts` offers.
 */
export async function pair(ctx: ServerContext, socket: SilkSocket, req: SessionRequest): Promise<AckBody> {
  const started = performance.now();
  const exclude = new Set(req.exclude ?? []);
  let offers = 0;
  let unanswered = 0;
  let rounds = 0;
  // Each round either makes an offer or loses reservation races; bound both.
  while (offers < ctx.config.maxOfferAttempts && rounds++ < ctx.config.maxOfferAttempts * 4) {
    const now = Date.now();
    const ranking = rankProviders(
      await ctx.directory.providersFor(req.model),
      { model: req.model, maxPrice: req.maxPrice, exclude },
      { now, failureWindowMs: ctx.config.failureWindowMs, limit: 4 },
    );
    if (!ranking.ok) {
      // After offers that failed, "nobody else" is reported as why those failed.
      if (offers === 0 || ranking.code === "ALL_BUSY")
        throw new SignalingError(ranking.code, ranking.message);
      break;
    }
    const chosen = await reserveFirst(ctx, ranking.candidates, now);
    if (!chosen) continue;
    offers++;
    const outcome = await offer(ctx, socket, req, chosen);
    if (outcome.kind === "accepted") {
      const seconds = (performance.now() - started) / 1000;
      ctx.metrics.pairingSeconds.observe(seconds);
      ctx.metrics.pairings.inc();
      return {
        ok: true,
        sessionId: outcome.sessionId,
        provider: {
          identityKey: chosen.provider.identityKey,
          payout: chosen.provider.payout,
          price: priceToWire(chosen.price),
        },
        iceServers: ctx.config.iceServers,
      };
    }
    exclude.add(chosen.provider.identityKey);
    if (outcome.kind === "no-answer") {
      unanswered++;
      await ctx.directory.recordFailure(chosen.provider.identityKey, chosen.provider.socketId, Date.now());
    }
    if (!socket.connected) throw new SignalingError("NO_ANSWER", "requester left");
  }
  if (unanswered > 0)
    throw new SignalingError("NO_ANSWER", `${unanswered} provider(s) did not answer in time; retry`);
  throw new SignalingError("ALL_BUSY", `every provider of ${req.model} at that price is busy; retry shortly`);
}

async function reserveFirst(ctx: ServerContext, candidates: readonly Candidate[], now: number) {
  for (const c of candidates) {
    if (await ctx.directory.reserve(c.provider.identityKey, c.provider.socketId, now)) return c;
  }
  return undefined;
}

type Outcome = { kind: "accepted"; sessionId: string } | { kind: "refused" } | { kind: "no-answer" };

/**
 * One offer. The session (record and room, both parties in it) exists before the provider hears
 * of it, so a disconnect at any moment frees the capacity exactly once and the provider may
 * signal as soon as it accepts.
 */
async function offer(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  chosen: Candidate,
): Promise<Outcome> {
  const sessionId = newSessionId();
  const room = sessionRoom(sessionId);
  const provider = chosen.provider;
  await ctx.directory.openSession({
    sessionId,
    identityKey: provider.identityKey,
    providerSocketId: provider.socketId,
    requesterSocketId: socket.id,
    model: req.model,
    createdAt: Date.now(),
  });
  socket.join(room);
  // Published on the same Redis channel as the offer below, so the remote join lands first.
  ctx.io.in(provider.socketId).socketsJoin(room);

  const payload = {
    v: PROTOCOL_VERSION,
    sessionId,
    model: req.model,
    sessionKey: req.sessionKey,
    price: priceToWire(chosen.price),
    iceServers: ctx.config.iceServers,
  };
  let reply: unknown;
  try {
    // A provider on this node is asked directly; one elsewhere through the adapter (broadcast with ack).
    const local = ctx.io.of("/").sockets.get(provider.socketId);
    reply = local
      ? await local.timeout(ctx.config.offerTimeoutMs).emitWithAck("session:offer", payload)
      : (
          (await ctx.io
            .to(provider.socketId)
            .timeout(ctx.config.offerTimeoutMs)
            .emitWithAck("session:offer", payload)) as unknown[]
        )[0];
  } catch {
    reply = undefined;
  }
  const parsed = v.safeParse(OfferReply, reply);
  if (parsed.success && parsed.output.ok) {
    if (socket.connected) return { kind: "accepted", sessionId };
    await endSession(ctx, sessionId, "peer-disconnected", socket.id);
    return { kind: "refused" };
  }
  await endSession(ctx, sessionId, "offer-withdrawn", socket.id);
  // An explicit refusal is the provider's right; silence or junk counts as a failure.
  return parsed.success ? { kind: "refused" } : { kind: "no-answer" };
}
