import { randomBytes } from "node:crypto";
import * as v from "valibot";
import {
  decodePublicKey,
  fromHex,
  PROTOCOL_VERSION,
  ProviderChallengeRequest,
  ProviderHeartbeat,
  ProviderRegister,
  payoutWorkchainProblem,
  quoteFault,
  registrationClaims,
  registrationMessage,
  toHex,
  Version,
} from "../protocol";
import type { ServerContext, SilkSocket } from "./context";
import { verifyEd25519 } from "./ed25519-native";
import { checkedEntry } from "./entry-check";
import { SignalingError } from "./errors";
import { type AckBody, guarded, type Listeners } from "./event-guard";

/**
 * Provider lifecycle: challenge → register (signed) → heartbeats → gone (disconnect, unregister,
 * or silence). A provider that reconnects is a new socket and must register again.
 */

const ProviderUnregister = v.object({ v: Version });

export function providerEvents(ctx: ServerContext): Listeners {
  const challenge = guarded(
    ctx,
    "provider:challenge",
    { schema: ProviderChallengeRequest },
    async (_, socket) => {
      const bytes = new Uint8Array(randomBytes(32));
      const hex = toHex(bytes);
      socket.data.challenge = { bytes, hex, expiresAt: Date.now() + ctx.config.challengeTtlMs };
      return { ok: true, challenge: hex, expiresInMs: ctx.config.challengeTtlMs };
    },
  );

  const register = guarded(ctx, "provider:register", { schema: ProviderRegister }, async (reg, socket) => {
    if (ctx.closing)
      throw new SignalingError("SHUTTING_DOWN", "server is shutting down; reconnect elsewhere");
    const challenge = socket.data.challenge;
    // Single use: a wrong or replayed signature costs the provider a fresh challenge.
    socket.data.challenge = undefined;
    if (!challenge || challenge.hex !== reg.challenge || Date.now() > challenge.expiresAt) {
      throw new SignalingError("BAD_CHALLENGE", "challenge unknown, used or expired; ask for a new one");
    }
    const message = registrationMessage(challenge.bytes, registrationClaims(reg));
    const signature = fromHex(reg.signature, 64, "signature");
    if (!verifyEd25519(fromHex(reg.identityKey, 32, "identity key"), message, signature)) {
      decodePublicKey(reg.identityKey); // a key that is no curve point says so (BAD_KEY)
      throw new SignalingError(
        "BAD_SIGNATURE",
        "registration signature does not verify for that identity key",
      );
    }
    // A connection let past the per-IP limit on a ticket registers that ticket's provider only.
    const ticket = socket.data.ticket;
    if (ticket && ticket.identityKey !== reg.identityKey) {
      setImmediate(() => socket.disconnect(true));
      throw new SignalingError(
        "BAD_TICKET",
        "this connection was admitted on another provider's resume ticket",
      );
    }
    // Receipts to a payout outside the basechain are paid nothing (protocol/payout.ts): never offered.
    const outside = payoutWorkchainProblem(reg.payout);
    if (outside) throw new SignalingError("MALFORMED", outside.message);
    const models = new Set(reg.models.map((m) => m.model));
    if (models.size !== reg.models.length) throw new SignalingError("MALFORMED", "a model is listed twice");
    // Every quote checked here, so a grant whose quote fails the requester's check is the server's
    // doing: a provider registering a bad or missing quote would otherwise have every requester
    // blame the server (QUOTE_FORGED) and keep it, cheapest first, on offer.
    for (const m of reg.models) {
      const terms = { identityKey: reg.identityKey, payout: reg.payout, model: m.model, price: m.price };
      const { expiresAt = 0, owner } = m.quote ?? {};
      const fault = quoteFault({ ...terms, expiresAt, owner }, m.quote, Date.now(), verifyEd25519);
      if (fault)
        throw new SignalingError(m.quote ? "BAD_SIGNATURE" : "MALFORMED", `the offer of ${m.model} ${fault}`);
      // A quote inside the margin would never be offered and the sweep would drop it within seconds.
      const ttlMs = expiresAt - Date.now();
      if (ttlMs <= ctx.config.quoteMarginMs)
        throw new SignalingError(
          "QUOTE_TOO_SHORT",
          `the quote of ${m.model} has ${ttlMs} ms left; this server needs more than its quote margin of ${ctx.config.quoteMarginMs} ms (QUOTE_MARGIN_MS): sign quotes that live longer`,
        );
      // The grant names the declared entry's owner beside the quote: both must say the same.
      if (owner !== reg.entry?.owner)
        throw new SignalingError(
          "MALFORMED",
          `the quote of ${m.model} names the Registry entry of ${owner ?? "nobody"}, the registration ${reg.entry?.owner ?? "none"}`,
        );
    }

    const previous = socket.data.provider;
    if (previous && previous.identityKey !== reg.identityKey)
      await ctx.directory.unregister(previous.identityKey, socket.id);
    // The chain's stake and age, not the provider's word, when the server can read the Registry.
    const entry =
      reg.entry &&
      (await checkedEntry(
        ctx.entryCheck?.read,
        { identityKey: reg.identityKey, payout: reg.payout },
        reg.entry,
        ctx.log,
        ctx.entryCheck?.timeoutMs ?? 0,
      ));
    const now = Date.now();
    await ctx.directory.register(
      {
        identityKey: reg.identityKey,
        socketId: socket.id,
        payout: reg.payout,
        models: reg.models,
        capacity: reg.capacity,
        device: reg.device,
        registeredAt: now,
        node: ctx.nodeId,
        ...(entry && { entry }),
      },
      now,
    );
    socket.data.provider = {
      identityKey: reg.identityKey,
      lastHeartbeatAt: now,
      quotesExpireAt: Math.min(...reg.models.map((m) => m.quote?.expiresAt ?? 0)),
    };
    ctx.localProviders.set(socket.id, socket);
    ctx.onRegistered(socket);
    ctx.feed.changed();
    ctx.log.debug({ socket: socket.id, models: models.size, capacity: reg.capacity }, "provider registered");
    socket.data.ticketIssuedAt = now;
    return {
      ok: true,
      heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
      heartbeatTimeoutMs: ctx.config.heartbeatTimeoutMs,
      // A quote inside this is no longer offered and is swept: the provider renews before it.
      quoteMarginMs: ctx.config.quoteMarginMs,
      ticket: ctx.tickets.issue(reg.identityKey, now),
    };
  });

  const heartbeat = guarded(ctx, "provider:heartbeat", { schema: ProviderHeartbeat }, async (hb, socket) => {
    const provider = requireProvider(socket);
    const now = Date.now();
    if (!(await ctx.directory.heartbeat(provider.identityKey, socket.id, hb.load, now))) {
      forget(ctx, socket);
      throw new SignalingError(
        "NOT_REGISTERED",
        "this socket no longer holds the registration; register again",
      );
    }
    provider.lastHeartbeatAt = now;
    ctx.feed.changed();
    // A quarter through its life, the ticket is renewed, so one is always good for a while yet.
    if (now - (socket.data.ticketIssuedAt ?? 0) < ctx.config.resumeTicketTtlMs / 4) return { ok: true };
    socket.data.ticketIssuedAt = now;
    return { ok: true, ticket: ctx.tickets.issue(provider.identityKey, now) };
  });

  const unregister = guarded(
    ctx,
    "provider:unregister",
    { schema: ProviderUnregister },
    async (_, socket) => {
      const provider = requireProvider(socket);
      await ctx.directory.unregister(provider.identityKey, socket.id);
      forget(ctx, socket);
      ctx.feed.changed();
      return { ok: true } satisfies AckBody;
    },
  );
  return [challenge, register, heartbeat, unregister];
}

function requireProvider(socket: SilkSocket): NonNullable<SilkSocket["data"]["provider"]> {
  const provider = socket.data.provider;
  if (!provider) throw new SignalingError("NOT_REGISTERED", "register first");
  return provider;
}

function forget(ctx: ServerContext, socket: SilkSocket): void {
  socket.data.provider = undefined;
  ctx.localProviders.delete(socket.id);
}

/** Removes a provider's entry when its socket goes away (owner-checked, so a newer registration survives). */
export async function dropProvider(ctx: ServerContext, socket: SilkSocket): Promise<void> {
  const provider = socket.data.provider;
  if (!provider) return;
  forget(ctx, socket);
  await ctx.directory.unregister(provider.identityKey, socket.id);
  ctx.feed.changed();
}

/**
 * Removes local providers that missed their heartbeats, or whose signed quotes are about to run
 * out, and tells them, so they can register again (with fresh quotes).
 */
export async function sweepProviders(ctx: ServerContext): Promise<void> {
  const now = Date.now();
  const deadline = now - ctx.config.heartbeatTimeoutMs;
  for (const socket of [...ctx.localProviders.values()]) {
    const provider = socket.data.provider;
    if (!provider) continue;
    const reason =
      provider.lastHeartbeatAt < deadline
        ? "missed-heartbeats"
        : provider.quotesExpireAt - ctx.config.quoteMarginMs <= now
          ? "quote-expired"
          : undefined;
    if (!reason) continue;
    await dropProvider(ctx, socket);
    socket.emit("provider:unregistered", { v: PROTOCOL_VERSION, reason });
    ctx.log.info({ socket: socket.id, reason }, "provider removed");
  }
}
