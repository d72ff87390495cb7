import type { Address } from "@ton/core";
import { parseOwner, type RegistryReader } from "../../contracts/wrappers/registry-reader";
import {
  encodePublicKey,
  PolicyRefusedError,
  type ProviderStanding,
  payoutWorkchainProblem,
  policyRefusal,
  RegistryMismatchError,
  RegistryUnavailableError,
  type TrustPolicy,
  UnregisteredProviderError,
} from "../../protocol";

/** The provider as its signed quote names it (carried in a grant or a `session:moved`). */
export interface NamedProvider {
  readonly identityKey: string;
  readonly payout: string;
  /** The owner of its own Registry entry, as its quote signs it: never the server's word alone. */
  readonly owner?: string;
}

/**
 * The requester's check of a provider the server named, before anything is sent to it: the
 * block- and allow-lists first (no chain read needed), then the Registry entry of the owner the
 * provider's quote names must publish exactly this identity key and payout, then its stake and
 * age must meet the policy. Another entry naming the same key (anyone can publish one) is never
 * read, so it can neither lend its stake and age nor get the provider refused.
 * Returns the provider's standing as the chain says; throws an `UntrustedProviderError` otherwise.
 */
export async function checkProvider(
  named: NamedProvider,
  registry: RegistryReader,
  policy: TrustPolicy,
  nowMs: number = Date.now(),
): Promise<ProviderStanding> {
  const key = named.identityKey;
  const listed = policyRefusal(
    { identityKey: key, stake: 0n, registeredAt: 0 },
    { ...policy, minStake: 0n, minAgeSeconds: 0 },
    0,
  );
  if (listed) throw new PolicyRefusedError(key, listed.reason, listed.message);
  // Whatever the Registry says: receipts to a payout outside the basechain are paid nothing.
  const outside = payoutWorkchainProblem(named.payout);
  if (outside) throw new PolicyRefusedError(key, "PAYOUT_WORKCHAIN", outside.message);
  const owner = parseOwner(named.owner);
  if (!owner) throw new UnregisteredProviderError(key, "the provider's signed quote names no Registry entry");
  let record: Awaited<ReturnType<RegistryReader["read"]>>;
  try {
    record = await registry.read(owner);
  } catch (err) {
    throw new RegistryUnavailableError(key, err);
  }
  if (!record) throw new UnregisteredProviderError(key);
  if (encodePublicKey(record.identityKey) !== key) throw new RegistryMismatchError(key, "identity key");
  if (!sameAddress(record.payout, named.payout)) throw new RegistryMismatchError(key, "payout");
  const standing: ProviderStanding = {
    identityKey: key,
    payout: named.payout,
    owner: owner.toString(),
    stake: record.stake,
    registeredAt: record.registeredAt,
  };
  const refusal = policyRefusal(standing, policy, Math.floor(nowMs / 1000));
  if (refusal) throw new PolicyRefusedError(key, refusal.reason, refusal.message);
  return standing;
}

function sameAddress(onChain: Address, named: string): boolean {
  const parsed = parseOwner(named);
  return parsed?.equals(onChain) === true;
}

/**
 * Why a grant names a Registry entry other than the one the provider's quote signs (anyone can
 * publish an entry under another's identity key, with its own stake, age and payout); undefined
 * when it names that one or none (the quote's is read either way).
 */
export function otherEntry(granted: {
  readonly owner?: string;
  readonly quote?: { readonly owner?: string };
}): string | undefined {
  const signed = parseOwner(granted.quote?.owner);
  if (granted.owner === undefined || (signed && sameAddress(signed, granted.owner))) return undefined;
  return `names the Registry entry owned by ${granted.owner}, not the provider's own (its signed quote names ${granted.quote?.owner ?? "none"})`;
}
