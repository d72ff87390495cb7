import { sha256 } from "@noble/hashes/sha2.js";
import { Address } from "@ton/core";
import { Buffer } from "buffer";
import { concatBytes, utf8 } from "../../protocol";
import { EngineError } from "../engines/engine";

/** Small rules of the provider page, pure so they are tested without a browser. */

/** Parses a price in nanoTON per token (a whole number); returns the problem as text otherwise. */
export function parseNanoTon(text: string): bigint | string {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) return "a price is a whole number of nanoTON per token (1 TON = 10⁹ nanoTON)";
  return BigInt(t);
}

/** Why a payout address cannot be used, or undefined when it can. */
export function payoutProblem(text: string | undefined): string | undefined {
  if (!text?.trim()) return "set a payout address (connect a wallet, or paste an address)";
  try {
    Address.parse(text.trim());
    return undefined;
  } catch {
    return "that is not a TON address (raw 0:… or user-friendly EQ…/UQ… form)";
  }
}

/** A message a provider can act on; never a stack trace, never a prompt. */
export function describeError(err: unknown): string {
  if (err instanceof EngineError) return err.message;
  if (err instanceof Error && err.name === "SignalingError")
    return `the signaling server refused: ${err.message}`;
  if (err instanceof Error) return err.message.slice(0, 300);
  return "something went wrong";
}

/**
 * Devnet only: a payout address made from the identity key, so a provider can serve on devnet
 * before any wallet exists. Nothing can spend from it; the devnet dev wallet replaces it.
 */
export function devnetPayout(identityPublicKey: Uint8Array): string {
  const hash = sha256(concatBytes(utf8("silk/v1 devnet payout"), identityPublicKey));
  return new Address(0, Buffer.from(hash)).toRawString();
}
