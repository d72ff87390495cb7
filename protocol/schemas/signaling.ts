import * as v from "valibot";
import { MAX_MODELS_PER_PROVIDER, MAX_SIGNALING_MESSAGE_BYTES } from "../limits";
import {
  Count,
  ErrorBody,
  Hex32,
  Hex64,
  Id,
  MaxPriceSchema,
  ModelId,
  ModelPriceSchema,
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

export const ModelOffer = v.object({ model: ModelId, price: ModelPriceSchema });

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
});

export const ProviderHeartbeat = v.object({ v: Version, load: v.pipe(Count, v.maxValue(64)) });

export const SessionRequest = v.object({
  v: Version,
  model: ModelId,
  maxPrice: MaxPriceSchema,
  sessionKey: Hex32,
  /** Providers to avoid (after a failure with them), by identity key. */
  exclude: v.optional(v.pipe(v.array(Hex32), v.maxLength(16))),
});

/** simple-peer signal data: an SDP offer/answer or an ICE candidate, opaque to the server but bounded. */
export const SignalData = v.pipe(
  v.record(v.string(), v.unknown()),
  v.check((d) => JSON.stringify(d).length <= MAX_SIGNALING_MESSAGE_BYTES, "signal too large"),
);

export const SignalRelay = v.object({ v: Version, sessionId: Id, data: SignalData });

/** Ciphertext frames when no direct channel could be made. */
export const FrameRelay = v.object({ v: Version, sessionId: Id, frame: v.instance(Uint8Array) });

export const SessionEnd = v.object({
  v: Version,
  sessionId: Id,
  reason: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

export const Ack = v.variant("ok", [
  v.object({ ok: v.literal(true) }),
  v.object({ ok: v.literal(false), error: ErrorBody }),
]);

export type DeviceFacts = v.InferOutput<typeof DeviceFacts>;
export type ModelOffer = v.InferOutput<typeof ModelOffer>;
export type ProviderRegister = v.InferOutput<typeof ProviderRegister>;
export type ProviderHeartbeat = v.InferOutput<typeof ProviderHeartbeat>;
export type SessionRequest = v.InferOutput<typeof SessionRequest>;
export type SignalRelay = v.InferOutput<typeof SignalRelay>;
export type FrameRelay = v.InferOutput<typeof FrameRelay>;
export type SessionEnd = v.InferOutput<typeof SessionEnd>;
