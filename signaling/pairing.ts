import * as v from "valibot";
import { type ModelPrice, OfferReply, PROTOCOL_VERSION, priceToWire, type SessionRequest } from "../protocol";
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
  const { failureWindowMs } = ctx.config;
  let offers = 0;
  let unanswered = 0;
  let rounds = 0;
  // Each round either makes an offer or loses reservation races; bound both.
  while (offers < ctx.config.maxOfferAttempts && rounds++ < ctx.config.maxOfferAttempts * 4) {
    const now = Date.now();
    const pick = { model: req.model, maxPrice: req.maxPrice, exclude, now, failureWindowMs };
    const chosen = await ctx.directory.reserveBest(pick);
    if (!chosen) {
      // Nobody fits: only now look at every provider, to say why.
      const ranking = rankProviders(await ctx.directory.providersFor(req.model), pick, {
        now,
        failureWindowMs,
        limit: 1,
      });
      if (ranking.ok) continue; // capacity freed meanwhile
      // After offers that failed, "nobody else" is reported as why those failed.
      if (offers === 0 || ranking.code === "ALL_BUSY")
        throw new SignalingError(ranking.code, ranking.message);
      break;
    }
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
          price: wirePrice(chosen.price),
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
  // A provider on this node joins and is asked directly; one elsewhere through the adapter
  // (broadcast with ack), its join published on the same Redis channel first, so it lands first.
  const local = ctx.io.of("/").sockets.get(provider.socketId);
  if (local) local.join(room);
  else ctx.io.in(provider.socketId).socketsJoin(room);

  const payload = {
    v: PROTOCOL_VERSION,
    sessionId,
    model: req.model,
    sessionKey: req.sessionKey,
    price: wirePrice(chosen.price),
    iceServers: ctx.config.iceServers,
  };
  let reply: unknown;
  // A provider whose socket closes mid-offer never acks: stop waiting then, not at the timeout.
  let onGone: (() => void) | undefined;
  const gone = new Promise<undefined>((resolve) => {
    onGone = () => resolve(undefined);
    local?.once("disconnect", onGone);
  });
  try {
    reply = local
      ? await Promise.race([
          local.timeout(ctx.config.offerTimeoutMs).emitWithAck("session:offer", payload),
          gone,
        ])
      : (
          (await ctx.io
            .to(provider.socketId)
            .timeout(ctx.config.offerTimeoutMs)
            .emitWithAck("session:offer", payload)) as unknown[]
        )[0];
  } catch {
    reply = undefined;
  } finally {
    if (onGone) local?.off("disconnect", onGone);
  }
  // `{ ok: true, ... }` is what OfferReply accepts as a yes; only other answers need the schema.
  const accepted = typeof reply === "object" && reply !== null && (reply as { ok?: unknown }).ok === true;
  const parsed = accepted ? undefined : v.safeParse(OfferReply, reply);
  if (accepted) {
    if (socket.connected) return { kind: "accepted", sessionId };
    await endSession(ctx, sessionId, "peer-disconnected", socket.id);
    return { kind: "refused" };
  }
  await endSession(ctx, sessionId, "offer-withdrawn", socket.id);
  // An explicit refusal is the provider's right; silence or junk counts as a failure.
  return parsed?.success ? { kind: "refused" } : { kind: "no-answer" };
}

/** Wire form of each listing's price, built once (listings never change once registered). */
const wirePrices = new WeakMap<ModelPrice, ReturnType<typeof priceToWire>>();

function wirePrice(price: ModelPrice): ReturnType<typeof priceToWire> {
  let wire = wirePrices.get(price);
  if (!wire) {
    wire = priceToWire(price);
    wirePrices.set(price, wire);
  }
  return wire;
}
