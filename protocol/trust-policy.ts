import type { NetworkName } from "./receipt";

/**
 * The requester's terms for whom it will talk to, and the pure check of a provider against them.
 * The provider's standing (stake, registration time, identity key, payout) comes from its Registry
 * entry, read on chain by the requester; the signaling server's word is never enough. No I/O here.
 */
export interface TrustPolicy {
  /** nanoTON the provider must have staked in its Registry entry. */
  readonly minStake: bigint;
  /** Seconds since the provider's identity key was registered on chain. */
  readonly minAgeSeconds: number;
  /** When non-empty, only these identity keys (hex): a private group, or pinned providers. */
  readonly allow: readonly string[];
  /** Identity keys (hex) never to talk to. Kept local: the server is told one only after offering it. */
  readonly block: readonly string[];
  /**
   * Audits passed for the model that the signaling server must have counted for the provider
   * (issue 16): the server's word, from reports whose evidence it checked. Sent with every
   * session request, with or without the Registry check.
   */
  readonly minAuditsPassed?: number;
}

/** What the signaling server is told, so it offers only providers that fit (the requester re-checks). */
export interface PolicyHint {
  readonly minStake: bigint;
  readonly minAgeSeconds: number;
  readonly allow?: readonly string[];
}

/** A provider as its Registry entry describes it. */
export interface ProviderStanding {
  readonly identityKey: string;
  readonly payout: string;
  /** The wallet that owns the Registry entry. */
  readonly owner: string;
  readonly stake: bigint;
  /** Unix seconds the identity key was registered on chain. */
  readonly registeredAt: number;
}

/**
 * `EXCLUDED`: a provider this request avoids (`avoid`, or one it left), offered anyway.
 * `PAYOUT_WORKCHAIN`: its payout is outside the basechain, where the Escrow cannot pay it (payout.ts).
 */
export type PolicyRefusal = "BLOCKED" | "NOT_ALLOWED" | "STAKE" | "AGE" | "EXCLUDED" | "PAYOUT_WORKCHAIN";

export const NO_POLICY: TrustPolicy = { minStake: 0n, minAgeSeconds: 0, allow: [], block: [] };

/**
 * Defaults per network: none on the devnet (every provider there is a test), a small stake on
 * testnet and mainnet so that each identity a server might invent costs real TON locked for two
 * weeks. Requesters override any field.
 */
export const DEFAULT_POLICIES: Readonly<Record<NetworkName, TrustPolicy>> = {
  devnet: NO_POLICY,
  testnet: { ...NO_POLICY, minStake: 1_000_000_000n },
  mainnet: { ...NO_POLICY, minStake: 1_000_000_000n },
};

export function policyFor(network: NetworkName, overrides: Partial<TrustPolicy> = {}): TrustPolicy {
  return { ...DEFAULT_POLICIES[network], ...overrides };
}

/** Why `standing` does not fit `policy` at `nowSeconds`, or undefined when it fits. */
export function policyRefusal(
  standing: Pick<ProviderStanding, "identityKey" | "stake" | "registeredAt">,
  policy: TrustPolicy,
  nowSeconds: number,
): { readonly reason: PolicyRefusal; readonly message: string } | undefined {
  const key = standing.identityKey.toLowerCase();
  if (policy.block.some((k) => k.toLowerCase() === key))
    return { reason: "BLOCKED", message: "the provider is on your block-list" };
  if (policy.allow.length > 0 && !policy.allow.some((k) => k.toLowerCase() === key))
    return { reason: "NOT_ALLOWED", message: "the provider is not on your allow-list" };
  if (standing.stake < policy.minStake)
    return {
      reason: "STAKE",
      message: `the provider stakes ${standing.stake} nanoTON, below your minimum of ${policy.minStake}`,
    };
  const age = nowSeconds - standing.registeredAt;
  if (policy.minAgeSeconds > 0 && (standing.registeredAt <= 0 || age < policy.minAgeSeconds))
    return {
      reason: "AGE",
      message: `the provider registered ${Math.max(0, age)} s ago, less than your minimum of ${policy.minAgeSeconds} s`,
    };
  return undefined;
}

export function policyHint(policy: TrustPolicy): PolicyHint {
  return {
    minStake: policy.minStake,
    minAgeSeconds: policy.minAgeSeconds,
    ...(policy.allow.length > 0 && { allow: [...policy.allow] }),
  };
}

/** Whether a provider's declared standing fits a hint (the server's filter; the requester re-checks on chain). */
export function fitsHint(
  declared: Pick<ProviderStanding, "identityKey" | "stake" | "registeredAt">,
  hint: PolicyHint,
  nowSeconds: number,
): boolean {
  return policyRefusal(declared, { ...hint, allow: hint.allow ?? [], block: [] }, nowSeconds) === undefined;
}
