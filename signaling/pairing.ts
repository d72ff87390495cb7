import * as v from "valibot";
import {
  FEATURES,
  fitsHint,
  type ModelPrice,
  OfferReply,
  PROTOCOL_VERSION,
  priceToWire,
  quoteFields,
  type SessionRequest,
} from "../protocol";
import type { ServerContext, SilkSocket } from "./context";
import type {
  ModelListing,
  Paired,
  PickRequest,
  ProviderState,
  Refused,
  SessionDraft,
} from "./directory/directory";
import { SignalingError } from "./errors";
import { AckThen, errorSummary } from "./event-guard";
import type { Candidate } from "./matchmaking";
import { ServerKey } from "./server-key";
import { isParty, joinSession, leaveSession } from "./session-parties";
import { endSession } from "./sessions";

/**
 * Pairing for one `session:request`: reserve the best fitting provider, offer it the session, and
 * grant the session to the requester in the same moment, without waiting for the provider's
 * answer. The requester's first signals then travel while the provider is still reading the offer,
 * which saves a round trip to the provider on every session (two on the wire before, one now).
 *
 * The answer is still awaited, in the background: silence (up to `offerTimeoutMs`), a refusal or
 * a provider that disconnects withdraws the offer, and the server offers the next provider and
 * sends the requester `session:moved` (or `session:ended` `no-provider` when nobody else fits),
 * up to `maxOfferAttempts` offers per request.
 */
export function pair(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
): AckThen | Promise<AckThen> {
  const started = performance.now();
  const attempt: Attempt = { exclude: new Set(req.exclude ?? []), offers: 0, unanswered: 0 };
  // The common request is answered in this turn, with no promise between its read and its grant.
  const now = placeNow(ctx, socket, req, attempt);
  if (now) return granting(ctx, socket, req, attempt, now, started);
  return pairLater(ctx, socket, req, attempt).then((placed) =>
    granting(ctx, socket, req, attempt, placed, started),
  );
}

async function pairLater(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  attempt: Attempt,
): Promise<Placed | SignalingError> {
  if (req.policy || req.needs?.length) {
    // Providers that cannot take it (policy, missing features) are skipped like excluded ones.
    const providers = await ctx.directory.providersFor(req.model);
    const lacking = lackingNeeds(req, providers);
    if (lacking instanceof SignalingError) throw lacking;
    for (const key of [...unfitting(req, providers), ...lacking]) attempt.exclude.add(key);
  }
  return placeByAudits(ctx, socket, req, attempt);
}

function granting(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  attempt: Attempt,
  placed: Placed | SignalingError,
  started: number,
): AckThen {
  if (placed instanceof SignalingError) {
    ctx.metrics.refusalSeconds.observe((performance.now() - started) / 1000);
    throw placed;
  }
  ctx.metrics.pairingSeconds.observe((performance.now() - started) / 1000);
  ctx.metrics.pairings.inc();
  // The offer is written right after the grant, in the same turn of the event loop, so it still
  // reaches the provider before anything the requester sends once it has read its grant.
  return new AckThen(granted(ctx, socket, placed, req), () => {
    void follow(ctx, socket, req, attempt, placed).catch((err: unknown) =>
      ctx.log.error({ err: errorSummary(err) }, "pairing follow-up failed"),
    );
  });
}

/**
 * `placeByAudits` in this turn, for a request with no policy, needs or audit minimum when the
 * audit standing is known and no provider is flagged, and the directory can reserve without a
 * round trip; undefined (nothing reserved) otherwise.
 */
function placeNow(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  attempt: Attempt,
): Placed | SignalingError | undefined {
  if (req.policy || req.needs?.length || (req.minAuditsPassed ?? 0) > 0 || !ctx.directory.reserveNow) return;
  const standing = ctx.audits.standingNow?.();
  if (!standing) return;
  for (const key of standing.flagged) if (!attempt.exclude.has(key) && !standing.dropped.has(key)) return;
  for (const key of standing.dropped) attempt.exclude.add(key);
  while (attempt.offers < ctx.config.maxOfferAttempts) {
    const pick = pickOf(ctx, req, attempt);
    const result = ctx.directory.reserveNow(pick, draftOf(ctx, socket));
    if (!result) return;
    if (!result.ok || !quoteRunningOut(ctx, result.provider.models, req.model, pick.now))
      return opened(ctx, socket, req, attempt, result);
    // Excluded at once, so the next pick need not wait for the place to come back.
    giveBackSoon(ctx, attempt, result);
  }
}

/**
 * Audits (issue 16) order the offer: a provider past the failed-audit threshold is offered to
 * nobody, one with any failed audit only when nobody else fits, and the request's minimum of
 * audits passed for the model (with or without a policy) skips those with fewer.
 */
async function placeByAudits(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  attempt: Attempt,
): Promise<Placed | SignalingError> {
  const { flagged, dropped } = await ctx.audits.standing();
  for (const key of dropped) attempt.exclude.add(key);
  const min = req.minAuditsPassed ?? 0;
  if (min > 0)
    for (const p of await ctx.directory.providersFor(req.model)) {
      const passed = (await ctx.audits.countsOf(p.identityKey)).get(req.model)?.passed ?? 0;
      if (passed < min) attempt.exclude.add(p.identityKey);
    }
  const last = [...flagged].filter((key) => !attempt.exclude.has(key));
  if (last.length === 0) return place(ctx, socket, req, attempt);
  for (const key of last) attempt.exclude.add(key);
  const first = await place(ctx, socket, req, attempt);
  if (!(first instanceof SignalingError)) return first;
  for (const key of last) attempt.exclude.delete(key);
  return place(ctx, socket, req, attempt);
}

/**
 * Providers of the model whose declared Registry standing does not fit the requester's policy:
 * skipped like excluded ones. What they declared is only a hint; the requester checks on chain.
 */
function unfitting(req: SessionRequest, all: readonly ProviderState[]): string[] {
  const hint = req.policy;
  if (!hint) return [];
  const now = Math.floor(Date.now() / 1000);
  return all
    .filter(
      (p) =>
        !p.entry ||
        !fitsHint(
          { identityKey: p.identityKey, stake: p.entry.stake, registeredAt: p.entry.registeredAt },
          hint,
          now,
        ),
    )
    .map((p) => p.identityKey);
}

interface Attempt {
  readonly exclude: Set<string>;
  offers: number;
  unanswered: number;
}

type Outcome = "accepted" | "refused" | "no-answer";

/** A session opened with a reserved provider; `offer` sends it the offer and settles with its answer. */
interface Placed {
  readonly sessionId: string;
  readonly chosen: Candidate;
  /** The provider's socket when it is on this node (asked directly); else asked through the adapter. */
  readonly local: SilkSocket | undefined;
  readonly payload: object;
}

/**
 * Reserves the best fitting provider not yet tried and opens the session, in one directory step
 * (the offer is sent by `follow`, after the requester has been told). When nobody fits, the
 * directory's index says why; after offers that failed, "nobody else" is reported as why those
 * failed.
 */
async function place(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  a: Attempt,
): Promise<Placed | SignalingError> {
  while (a.offers < ctx.config.maxOfferAttempts) {
    const pick = pickOf(ctx, req, a);
    const result = await ctx.directory.reserveBest(pick, draftOf(ctx, socket));
    if (result.ok && quoteRunningOut(ctx, result.provider.models, req.model, pick.now)) {
      await giveBack(ctx, a, result);
      continue;
    }
    return opened(ctx, socket, req, a, result);
  }
  return exhausted(req, a);
}

function pickOf(ctx: ServerContext, req: SessionRequest, a: Attempt): PickRequest {
  const { failureWindowMs } = ctx.config;
  return { model: req.model, maxPrice: req.maxPrice, exclude: a.exclude, now: Date.now(), failureWindowMs };
}

function draftOf(ctx: ServerContext, socket: SilkSocket): SessionDraft {
  return { requesterSocketId: socket.id, requesterNode: ctx.nodeId };
}

/**
 * A provider reserved although its quote runs out within the margin: its node's sweep removes it
 * and has it register again; until then, nobody is offered it. Its place is given back (in this
 * turn when the directory can; else the returned promise settles when it is).
 */
function giveBack(ctx: ServerContext, a: Attempt, reserved: Paired): Promise<unknown> | undefined {
  a.exclude.add(reserved.provider.identityKey);
  if (ctx.directory.closeNow?.(reserved.sessionId)) return undefined;
  return ctx.directory.closeSession(reserved.sessionId);
}

/** `giveBack` without waiting: a failure to give the place back is logged. */
function giveBackSoon(ctx: ServerContext, a: Attempt, reserved: Paired): void {
  giveBack(ctx, a, reserved)?.catch((err: unknown) =>
    ctx.log.warn({ err: errorSummary(err) }, "giving back a place failed"),
  );
}

/** The session opened with what the directory reserved, or why nobody (else) fits. */
function opened(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  a: Attempt,
  result: Paired | Refused,
): Placed | SignalingError {
  if (result.ok) {
    // The requester left while the store was asked (a round trip): its grant could reach nobody,
    // and the place was held for nobody until the provider's own handshake deadline. Given back now.
    if (!socket.connected) return requesterGone(ctx, a, result);
    a.offers++;
    return open(ctx, socket, req, result.sessionId, result);
  }
  if (a.offers === 0 || result.code === "ALL_BUSY") return new SignalingError(result.code, result.message);
  return exhausted(req, a);
}

/** Gives back a place reserved for a requester already disconnected (no offer, nobody joined). */
function requesterGone(ctx: ServerContext, a: Attempt, reserved: Paired): SignalingError {
  giveBackSoon(ctx, a, reserved);
  return new SignalingError(
    "NOT_IN_SESSION",
    "the requester disconnected while its session was being placed",
  );
}

/** After offers that failed, "nobody else" is reported as why those failed. */
function exhausted(req: SessionRequest, a: Attempt): SignalingError {
  if (a.unanswered > 0)
    return new SignalingError("NO_ANSWER", `${a.unanswered} provider(s) did not answer in time; retry`);
  return new SignalingError(
    "ALL_BUSY",
    `every provider of ${req.model} at that price is busy; retry shortly`,
  );
}

/**
 * Providers of the model that lack a feature the request needs (only requests with needs or a
 * policy pay for reading the model's providers). When some serve the model but none has what it
 * needs, the refusal names the feature.
 */
function lackingNeeds(
  req: SessionRequest,
  providers: readonly ProviderState[],
): Set<string> | SignalingError {
  const unfit = new Set<string>();
  if (!req.needs?.length) return unfit;
  let lacking: string | undefined;
  for (const p of providers) {
    const listing = p.models.find((m) => m.model === req.model);
    const missing = req.needs.find((n) => !listing?.features?.includes(n));
    if (missing) {
      unfit.add(p.identityKey);
      lacking ??= missing;
    }
  }
  if (providers.length > 0 && unfit.size === providers.length) {
    const feature = lacking ?? FEATURES[0];
    return new SignalingError("UNSUPPORTED", `no provider of ${req.model} supports ${feature}`);
  }
  return unfit;
}

/**
 * Waits for each offer's answer; on anything but a yes, moves the requester to the next provider.
 * The next provider is placed first and the requester told in the same step as it leaves the old
 * session, so nothing it sends in between is refused before it hears why. Stops as soon as the
 * requester has left the session (ended it, disconnected).
 */
async function follow(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  a: Attempt,
  first: Placed,
): Promise<void> {
  let current = first;
  for (;;) {
    const outcome = await offer(ctx, current);
    ctx.metrics.offers.inc({ outcome });
    if (outcome === "accepted") return;
    const { sessionId, chosen } = current;
    const wanted = () => socket.connected && isParty(socket, sessionId) && !ctx.closing;
    a.exclude.add(chosen.provider.identityKey);
    if (outcome === "no-answer") {
      a.unanswered++;
      await ctx.directory.recordFailure(chosen.provider.identityKey, chosen.provider.socketId, Date.now());
    }
    const next = wanted() ? await place(ctx, socket, req, a) : undefined;
    // The requester may have left while the next provider was being placed.
    const moving = next !== undefined && wanted();
    if (next instanceof SignalingError) {
      if (moving) {
        ctx.metrics.rejections.inc({ reason: next.code });
        leaveSession(ctx, socket, sessionId);
        socket.emit("session:ended", {
          v: PROTOCOL_VERSION,
          sessionId,
          reason: "no-provider",
          error: { code: next.code, message: next.message },
        });
      }
    } else if (next && moving) {
      ctx.metrics.moves.inc();
      leaveSession(ctx, socket, sessionId);
      socket.emit("session:moved", { v: PROTOCOL_VERSION, sessionId, to: granted(ctx, socket, next, req) });
    } else if (next) {
      ctx.pendingOffers.delete(next.sessionId);
      await endSession(ctx, next.sessionId, "peer-disconnected", socket.id);
    }
    // The requester has left (or heard): only the provider is told the offer was withdrawn.
    await endSession(ctx, sessionId, "offer-withdrawn", socket.id);
    if (!moving || !next || next instanceof SignalingError) return;
    current = next;
  }
}

/** A quote that runs out within the margin would reach the requester as forged (or soon after). */
function quoteRunningOut(ctx: ServerContext, models: readonly ModelListing[], model: string, now: number) {
  const quote = models.find((m) => m.model === model)?.quote;
  return quote !== undefined && quote.expiresAt - ctx.config.quoteMarginMs <= now;
}

/** The provider's signed quote for the model, verbatim (the requester checks it, not us). */
function quoteOf(models: readonly ModelListing[], model: string) {
  const quote = models.find((m) => m.model === model)?.quote;
  return quote ? { quote: quoteFields(quote) } : {};
}

/**
 * The grant for `placed`, with the connection's MAC over it and the request's nonce when both are
 * there (protocol/server-grant.ts): the requester can then tell it from one altered on the path.
 */
function granted(ctx: ServerContext, socket: SilkSocket, placed: Placed, req: SessionRequest) {
  const provider = placed.chosen.provider;
  const grant = {
    ok: true as const,
    sessionId: placed.sessionId,
    provider: {
      identityKey: provider.identityKey,
      payout: provider.payout,
      price: wirePrice(placed.chosen.price),
      ...(provider.entry && { owner: provider.entry.owner }),
      ...quoteOf(provider.models, req.model),
    },
    iceServers: ctx.config.iceServers,
  };
  const macKey = socket.data.grantMacKey;
  return req.nonce && macKey ? { ...grant, server: ServerKey.mac(macKey, req.nonce, grant) } : grant;
}

/**
 * Joins the parties of a session the directory opened with a reserved provider. The session
 * (record and both parties in it) exists before anyone hears of it, so a disconnect at any
 * moment frees the capacity exactly once, and the requester's signals reach the provider right
 * behind the offer.
 */
function open(
  ctx: ServerContext,
  socket: SilkSocket,
  req: SessionRequest,
  sessionId: string,
  chosen: Candidate,
): Placed {
  const provider = chosen.provider;
  // A provider on this node is asked directly; one elsewhere through the adapter (broadcast with
  // ack), after its join to the session's room on the same Redis channel.
  const local = joinSession(ctx, sessionId, socket, provider.socketId);
  ctx.pendingOffers.set(sessionId, provider.socketId);

  const payload = {
    v: PROTOCOL_VERSION,
    sessionId,
    model: req.model,
    sessionKey: req.sessionKey,
    price: wirePrice(chosen.price),
    iceServers: ctx.config.iceServers,
  };
  return { sessionId, chosen, local, payload };
}

/** Sends the offer and settles with the provider's answer (module-level: no closure per pairing). */
function offer(ctx: ServerContext, placed: Placed): Promise<Outcome> {
  const { sessionId, local, payload } = placed;
  const sent = performance.now();
  const reply: Promise<unknown> = local
    ? answerOrGone(local, ctx.config.offerTimeoutMs, payload)
    : ctx.io
        .to(placed.chosen.provider.socketId)
        .timeout(ctx.config.offerTimeoutMs)
        .emitWithAck("session:offer", payload)
        .then((replies: unknown[]) => replies[0]);
  return reply
    .then(
      (r): Outcome => {
        ctx.metrics.offerAnswerSeconds.observe((performance.now() - sent) / 1000);
        // `{ ok: true }` is what OfferReply accepts as a yes; only other answers need the schema.
        if (typeof r === "object" && r !== null && (r as { ok?: unknown }).ok === true) return "accepted";
        // An explicit refusal is the provider's right; silence or junk counts as a failure.
        return v.safeParse(OfferReply, r).success ? "refused" : "no-answer";
      },
      (): Outcome => "no-answer",
    )
    .finally(() => ctx.pendingOffers.delete(sessionId));
}

/** The provider's ack, or undefined at once when its socket closes mid-offer (it never acks then). */
function answerOrGone(provider: SilkSocket, timeoutMs: number, payload: unknown): Promise<unknown> {
  if (!provider.connected) return Promise.resolve(undefined);
  let onGone: (() => void) | undefined;
  const gone = new Promise<undefined>((resolve) => {
    onGone = () => resolve(undefined);
    provider.once("disconnect", onGone);
  });
  const ack = provider.timeout(timeoutMs).emitWithAck("session:offer", payload);
  return Promise.race([ack, gone]).finally(() => {
    if (onGone) provider.off("disconnect", onGone);
  });
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
