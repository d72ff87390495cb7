import type { Address } from "@ton/core";
import { parseOwner, type RegistryReader } from "../../contracts/wrappers/registry-reader";
import {
  encodePublicKey,
  PolicyRefusedError,
  type ProviderStanding,
  policyRefusal,
  RegistryMismatchError,
  RegistryUnavailableError,
  type TrustPolicy,
  UnregisteredProviderError,
} from "../../protocol";

/** The provider as the signaling server named it (a grant or a `session:moved`). */
export interface NamedProvider {
  readonly identityKey: string;
  readonly payout: string;
  readonly owner?: string;
}

/**
 * The requester's check of a provider the server named, before anything is sent to it: the
 * block- and allow-lists first (no chain read needed), then the Registry entry of the named owner
 * must publish exactly this identity key and payout, then its stake and age must meet the policy.
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
  const owner = parseOwner(named.owner);
  if (!owner) throw new UnregisteredProviderError(key, "the server named no Registry entry for the provider");
  let record: Awaited<ReturnType<RegistryReader["read"]>>;
  try {
    record = await registry.read(owner);
  } catch (err) {
    throw new RegistryUnavailableError(key, err);
  }
  if (!record) throw new UnregisteredProviderError(key);
  if (encodePublicKey(record.identityKey) !== key) throw new RegistryMismatchError(key, "identity key");
  if (!samePayout(record.payout, named.payout)) throw new RegistryMismatchError(key, "payout");
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

function samePayout(onChain: Address, named: string): boolean {
  const parsed = parseOwner(named);
  return parsed?.equals(onChain) === true;
}
