import { Address, type Cell } from "@ton/core";
import { type ProviderEntry, registryBodies, signKeyProof } from "../contracts/wrappers/registry";

/**
 * How long the identity key's consent to a registration holds (seconds): time enough to confirm
 * the transfer in a wallet; after it, the owner cannot publish the key again with that signature.
 */
export const KEY_PROOF_TTL_S = 3600;

/**
 * The Registry message that publishes `entry` from `owner`'s wallet, with the identity key's
 * signature over (network, registry, owner, valid until): the Registry refuses a key its holder did
 * not sign for that owner on that network (`BadKeyProof`), so no one else can publish this
 * provider's key, here or on another network. `globalId` is the chain's (the page config's).
 */
export function registerBody(
  identitySecret: Uint8Array,
  entry: ProviderEntry,
  at: { readonly globalId: number; readonly registry: string | Address; readonly owner: string | Address },
  nowMs: number = Date.now(),
): Cell {
  const address = (a: string | Address) => (typeof a === "string" ? Address.parse(a) : a);
  const proof = signKeyProof(identitySecret, {
    globalId: at.globalId,
    registry: address(at.registry),
    owner: address(at.owner),
    validUntil: Math.floor(nowMs / 1000) + KEY_PROOF_TTL_S,
  });
  return registryBodies.register(entry, proof);
}
