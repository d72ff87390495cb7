import { Address } from "@ton/core";
import type { RegistryReader, RegistryRecord } from "../../contracts/wrappers/registry-reader";
import type { EscrowFacts } from "../../provider/account-gate";

/**
 * TEST DOUBLE: a chain endpoint that answers every read after `readMs` (a round trip to
 * toncenter or a devnet), for the first-token bench: the Registry entry a requester checks and
 * the escrow facts a provider's gate reads. It counts reads, so a cache shows as fewer of them.
 */
export interface SlowChain {
  readonly reads: { registry: number; escrow: number };
  /** What a fresh `tonRegistryReader` does on a cold entry: the entry's address, then the entry. */
  readonly registry: RegistryReader;
  /** An escrow reader for `accountGate`: every key active, funds plenty. */
  readonly escrow: () => Promise<EscrowFacts>;
  /** The facts the escrow reads give, for the gate's rules. */
  readonly codeHash: string;
}

export function slowChain(
  readMs: number,
  providers: ReadonlyMap<string, { identityKey: Uint8Array; payout: string }>,
): SlowChain {
  const wait = () => new Promise((r) => setTimeout(r, readMs));
  const reads = { registry: 0, escrow: 0 };
  const codeHash = "00".repeat(32);
  return {
    reads,
    codeHash,
    registry: {
      async read(owner: Address): Promise<RegistryRecord | undefined> {
        reads.registry++;
        await wait(); // the entry's address from the Registry's getter
        await wait(); // the entry itself
        const p = providers.get(owner.toRawString());
        return (
          p && {
            identityKey: p.identityKey,
            payout: Address.parse(p.payout),
            stake: 10n ** 12n,
            registeredAt: 1,
          }
        );
      },
    },
    async escrow() {
      reads.escrow++;
      await wait();
      return {
        codeHash,
        network: -1000, // the devnet
        closeDelay: 3_600,
        unlockAt: 0,
        key: { epoch: 0, active: true },
        available: 10n ** 15n,
        paid: 0n,
      };
    },
  };
}
