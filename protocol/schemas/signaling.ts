import * as v from "valibot";
import { fromHex, toHex } from "../encoding";
import { FeatureSchema, type ModelSupport } from "../features";
import { sign } from "../identity";
import { MAX_FRAME_BYTES, MAX_MODELS_PER_PROVIDER, MAX_SIGNALING_MESSAGE_BYTES } from "../limits";
import type { ModelPrice } from "../pricing";
import { registrationMessage } from "../registration";
import { NONCE_HEX } from "../server-grant";
import {
  Count,
  ErrorBody,
  Hex32,
  Hex64,
  Id,
  MapOf,
  MaxPriceSchema,
  ModelId,
  ModelPriceSchema,
  Nano,
  priceToWire,
  TonAddressText,
  Version,
} from "./common";

/**
 * Socket.io events between parties and the signaling server. Every event is acknowledged; every
 * payload is validated here before anything else looks at it. Names are `party:action`.
 */

export const DeviceFacts = v.object({
  adapter: v.optional(v.pipe(v.string(), v.maxLength(200))),
  memoryMB: v.optional(v.pipe(Count, v.maxValue(16 * 1024 * 1024))),
  shaderF16: v.optional(v.boolean()),
  backend: v.optional(v.picklist(["webgpu", "http"])),
});

/** What a model can do beyond plain chat (see features.ts), declared with its price. */
export const ModelSupportFields = {
  features: v.optional(v.pipe(v.array(FeatureSchema), v.maxLength(8))),
  contextWindow: v.optional(v.pipe(Count, v.minValue(1), v.maxValue(100_000_000))),
};

/**
 * A provider's signed quote (../quote.ts): its key over its payout, its Registry entry's `owner`
 * (when it has one) and this model's price, until `expiresAt` (Unix ms).
 */
export const SignedQuote = v.object({
  expiresAt: Count,
  owner: v.optional(TonAddressText),
  signature: Hex64,
});

export const ModelOffer = v.object({
  model: ModelId,
  price: ModelPriceSchema,
  ...ModelSupportFields,
  quote: v.optional(SignedQuote),
});

/** A model a provider serves, as it declares it. */
export interface ServedModel extends ModelSupport {
  readonly model: string;
  readonly price: ModelPrice;
}

/** Wire form of a served model: the price as decimal strings, support only where declared. */
export function offerToWire(m: ServedModel, quote?: SignedQuote) {
  return {
    model: m.model,
    price: priceToWire(m.price),
    ...(m.features?.length ? { features: [...m.features] } : {}),
    ...(m.contextWindow ? { contextWindow: m.contextWindow } : {}),
    ...(quote && { quote }),
  };
}

/**
 * What a provider says of its Registry entry: the wallet that owns it (the requester computes the
 * entry's address from it and reads the entry on chain) and, as hints for the server's filter,
 * its stake and when it registered. Signed with the rest of the registration.
 */
export const RegistryEntryClaim = v.object({
  owner: TonAddressText,
  stake: Nano,
  registeredAt: Count,
});

/** The public part of a requester's trust policy (protocol/trust-policy.ts): the server offers only providers that fit. */
export const PolicyHintSchema = v.object({
  minStake: Nano,
  minAgeSeconds: Count,
  allow: v.optional(v.pipe(v.array(Hex32), v.maxLength(64))),
});

/** Ask for a challenge to sign. */
export const ProviderChallengeRequest = v.object({ v: Version });

/**
 * Registration: the identity key signs `registrationMessage(challenge, body)`, so a provider entry
 * can neither be spoofed (the key must sign) nor replayed (the challenge is fresh per socket).
 */
export const ProviderRegister = v.object({
  v: Version,
  identityKey: Hex32,
  challenge: Hex32,
  signature: Hex64,
  payout: TonAddressText,
  models: v.pipe(v.array(ModelOffer), v.minLength(1), v.maxLength(MAX_MODELS_PER_PROVIDER)),
  capacity: v.pipe(Count, v.minValue(1), v.maxValue(64)),
  device: DeviceFacts,
  entry: v.optional(RegistryEntryClaim),
});

export const ProviderHeartbeat = v.object({ v: Version, load: v.pipe(Count, v.maxValue(64)) });

export const SessionRequest = v.object({
  v: Version,
  model: ModelId,
  maxPrice: MaxPriceSchema,
  sessionKey: Hex32,
  /** Providers to avoid (after a failure with them), by identity key. */
  exclude: v.optional(v.pipe(v.array(Hex32), v.maxLength(16))),
  /** Features the request needs: only providers declaring them for the model are offered it. */
  needs: v.optional(v.pipe(v.array(FeatureSchema), v.maxLength(8))),
  policy: v.optional(PolicyHintSchema),
  /**
   * Only providers with at least this many audits passed for the model (issue 16). Apart from
   * `policy`, which also asks for a Registry entry: this one holds with or without one.
   */
  minAuditsPassed: v.optional(Count),
  /**
   * 16 random bytes (hex), fresh per request: on a connection that said `server:hello`, each grant
   * for it carries the connection's MAC over it and this nonce (server-grant.ts), so a grant cannot
   * be altered on the path nor replayed to another request.
   */
  nonce: v.optional(v.pipe(v.string(), v.regex(NONCE_HEX))),
});

/** simple-peer signal data: an SDP offer/answer or an ICE candidate, opaque to the server but bounded. */
export const SignalData = v.pipe(
  MapOf(v.record(v.string(), v.unknown())),
  v.check((d) => JSON.stringify(d).length <= MAX_SIGNALING_MESSAGE_BYTES, "signal too large"),
);

export const SignalRelay = v.object({ v: Version, sessionId: Id, data: SignalData });

/** Ciphertext frames when no direct channel could be made. */
export const FrameRelay = v.object({
  v: Version,
  sessionId: Id,
  frame: v.pipe(
    v.instance(Uint8Array),
    v.check((f) => f.byteLength >= 1 && f.byteLength <= MAX_FRAME_BYTES, "frame of 1 byte to 64 KiB"),
  ),
});

export const SessionEnd = v.object({
  v: Version,
  sessionId: Id,
  reason: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

export const Ack = v.variant("ok", [
  v.object({ ok: v.literal(true) }),
  v.object({ ok: v.literal(false), error: ErrorBody }),
]);

/** Ask for the live directory (and its updates, while subscribed). */
export const DirectorySubscribe = v.object({ v: Version, subscribe: v.optional(v.boolean()) });

/** The live directory: which models are served, by how many providers, at what prices. */
export const DirectorySnapshot = v.object({
  v: Version,
  providers: Count,
  models: v.array(
    v.object({
      model: ModelId,
      providers: Count,
      capacity: Count,
      inUse: Count,
      /** Features at least one provider of the model declares, and the largest context window. */
      ...ModelSupportFields,
      /** Distinct prices, cheapest first, with how many providers ask each. */
      prices: v.array(v.object({ price: ModelPriceSchema, providers: Count })),
    }),
  ),
});

/** One provider's audit counts for one model (issue 16), as `GET /api/models` lists them. */
export const AuditCountRow = v.object({
  provider: Hex32,
  model: ModelId,
  passed: Count,
  failed: Count,
  /** Past the failed-audit threshold: offered to nobody. */
  dropped: v.optional(v.boolean()),
});

/** `GET /api/models`: the directory snapshot and the audit counts of the providers registered now. */
export const ModelsView = v.object({
  ...DirectorySnapshot.entries,
  audits: v.optional(v.pipe(v.array(AuditCountRow), v.maxLength(1_000_000)), []),
});

/** The provider's answer to a `session:offer`: accept, or refuse with a short reason. */
export const OfferReply = v.variant("ok", [
  v.object({ ok: v.literal(true) }),
  v.object({ ok: v.literal(false), reason: v.optional(v.pipe(v.string(), v.maxLength(200))) }),
]);

/** STUN/TURN servers as RTCIceServer, handed to both peers of a session. */
export const IceServer = v.object({
  urls: v.union([
    v.pipe(v.string(), v.maxLength(512)),
    v.pipe(v.array(v.pipe(v.string(), v.maxLength(512))), v.maxLength(8)),
  ]),
  username: v.optional(v.pipe(v.string(), v.maxLength(256))),
  credential: v.optional(v.pipe(v.string(), v.maxLength(256))),
});

/** Server to provider: a requester wants a session; ack with `OfferReply` before the deadline. */
export const SessionOffer = v.object({
  v: Version,
  sessionId: Id,
  model: ModelId,
  sessionKey: Hex32,
  price: ModelPriceSchema,
  iceServers: v.pipe(v.array(IceServer), v.maxLength(16)),
});

/** Server to requester: the `session:request` ack on success. */
export const SessionGranted = v.object({
  ok: v.literal(true),
  sessionId: Id,
  /** `owner`: the wallet owning the provider's Registry entry, which the requester checks on chain. */
  provider: v.object({
    identityKey: Hex32,
    payout: TonAddressText,
    price: ModelPriceSchema,
    owner: v.optional(TonAddressText),
    /** The provider's signed quote for the model asked, carried verbatim: the requester checks it. */
    quote: v.optional(SignedQuote),
  }),
  iceServers: v.pipe(v.array(IceServer), v.maxLength(16)),
  /**
   * The HMAC of this grant and the request's `nonce` under the connection's key (server-grant.ts):
   * present when the request carried a nonce on a connection that said `server:hello`.
   */
  server: v.optional(v.object({ mac: Hex32 })),
});

/** Requester to server, once per connection: a fresh nonce and X25519 key (server-grant.ts). */
export const ServerHello = v.object({
  v: Version,
  nonce: v.pipe(v.string(), v.regex(NONCE_HEX)),
  dh: Hex32,
});

/**
 * Server to one party: the session is over. The peer ended it or disconnected; the server
 * withdrew an offer the provider did not take (to the provider); or, to a requester, nobody took
 * its session (`no-provider`, with the same `error` a refused `session:request` would carry).
 */
export const SessionEnded = v.object({
  v: Version,
  sessionId: Id,
  reason: v.picklist([
    "ended",
    "peer-disconnected",
    "offer-withdrawn",
    "shutdown",
    "no-provider",
    "node-lost",
  ]),
  error: v.optional(
    v.object({
      code: v.pipe(v.string(), v.maxLength(40)),
      message: v.pipe(v.string(), v.maxLength(300)),
    }),
  ),
});

/**
 * Server to requester: the provider of `sessionId` did not take the session (silent, refused,
 * gone), so it now runs as `to`, with another provider. A grant is sent as soon as a provider is
 * reserved and offered, not after it accepts; this is how the server's failover reaches a
 * requester that is already signalling.
 */
export const SessionMoved = v.object({
  v: Version,
  sessionId: Id,
  to: SessionGranted,
});

// Error codes in signaling acks live with every other code in ../error-codes.ts.

/**
 * What a provider's identity key vouches for in `provider:register`: everything but the
 * challenge (signed separately) and the signature itself. Feed it to `registrationMessage`.
 */
export function registrationClaims(r: {
  identityKey: string;
  payout: string;
  models: readonly unknown[];
  capacity: number;
  device: unknown;
  entry?: unknown;
}): unknown {
  return {
    identityKey: r.identityKey,
    payout: r.payout,
    models: r.models,
    capacity: r.capacity,
    device: r.device,
    ...(r.entry !== undefined && { entry: r.entry }),
  };
}

/**
 * The hex signature for `provider:register`: the identity key over `registrationMessage` of the
 * server's challenge (hex) and the body's claims.
 */
export function signRegistration(
  secretKey: Uint8Array,
  challengeHex: string,
  body: Parameters<typeof registrationClaims>[0],
): string {
  return toHex(
    sign(secretKey, registrationMessage(fromHex(challengeHex, 32, "challenge"), registrationClaims(body))),
  );
}

export type DeviceFacts = v.InferOutput<typeof DeviceFacts>;
export type ModelOffer = v.InferOutput<typeof ModelOffer>;
export type SignedQuote = v.InferOutput<typeof SignedQuote>;
export type ProviderRegister = v.InferOutput<typeof ProviderRegister>;
export type ProviderHeartbeat = v.InferOutput<typeof ProviderHeartbeat>;
export type SessionRequest = v.InferOutput<typeof SessionRequest>;
export type SignalRelay = v.InferOutput<typeof SignalRelay>;
export type FrameRelay = v.InferOutput<typeof FrameRelay>;
export type SessionEnd = v.InferOutput<typeof SessionEnd>;
export type DirectorySnapshot = v.InferOutput<typeof DirectorySnapshot>;
export type AuditCountRow = v.InferOutput<typeof AuditCountRow>;
export type ModelsView = v.InferOutput<typeof ModelsView>;
export type OfferReply = v.InferOutput<typeof OfferReply>;
export type IceServer = v.InferOutput<typeof IceServer>;
export type SessionOffer = v.InferOutput<typeof SessionOffer>;
export type SessionGranted = v.InferOutput<typeof SessionGranted>;
export type ServerHello = v.InferOutput<typeof ServerHello>;
export type SessionEnded = v.InferOutput<typeof SessionEnded>;
export type SessionMoved = v.InferOutput<typeof SessionMoved>;
export type RegistryEntryClaim = v.InferOutput<typeof RegistryEntryClaim>;
