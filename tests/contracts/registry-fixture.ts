import { type Address, type Cell, toNano } from "@ton/core";
import {
  Blockchain,
  type BlockchainSnapshot,
  type SandboxContract,
  type TreasuryContract,
} from "@ton/sandbox";
import { beforeAll, beforeEach } from "vitest";
import { compiled } from "../../contracts/compile";
import { globalIdOf, setGlobalId } from "../../contracts/sandbox-network";
import {
  type KeyProof,
  type ProviderEntry,
  ProviderEntryContract,
  Registry,
  signKeyProof,
} from "../../contracts/wrappers/registry";
import { toHex } from "../../protocol/encoding";
import { generateKeyPair } from "../../protocol/identity";
import { flatPrice } from "../../protocol/pricing";

export const T0 = 1_800_000_000;

export interface RegistryFixture {
  blockchain: Blockchain;
  registry: SandboxContract<Registry>;
  entryCode: Cell;
  alice: SandboxContract<TreasuryContract>;
  mallory: SandboxContract<TreasuryContract>;
  /**
   * `e` with its identity key's proof that `owner` may publish it here, valid for an hour of chain
   * time (a key `entry()` did not make is signed by a stranger's key: a proof that does not verify).
   */
  signed(e: ProviderEntry, owner: Address): { entry: ProviderEntry; proof: KeyProof };
  /** The entry contract `owner` registers through this registry. */
  entryOf(owner: Address): SandboxContract<ProviderEntryContract>;
  balance(address: Address): Promise<bigint>;
}

/** The secret half of every identity key `entry()` made, by the public key's hex. */
const secrets = new Map<string, Uint8Array>();

/** An entry with a fresh identity key, paying `payout`, for one model unless told otherwise. */
export const entry = (
  payout: Address,
  models = [{ modelId: "Llama-3.2-1B-Instruct-q4f16_1-MLC", price: flatPrice(2000n) }],
): ProviderEntry => {
  const key = generateKeyPair();
  secrets.set(toHex(key.publicKey), key.secretKey);
  return { identityKey: key.publicKey, payout, models };
};

/** The secret key of an identity key `entry()` made. */
export const secretOf = (e: ProviderEntry): Uint8Array | undefined => secrets.get(toHex(e.identityKey));

/**
 * A deployed Registry with two treasuries; `now` fixed at T0. On mainnet (the sandbox's own
 * config) unless `o.globalId` names another network.
 */
export async function registryFixture(o: { globalId?: number } = {}): Promise<RegistryFixture> {
  const entryCode = (await compiled("providerEntry")).code;
  const code = (await compiled("registry")).code;
  const blockchain = await Blockchain.create();
  if (o.globalId !== undefined) setGlobalId(blockchain, o.globalId);
  const globalId = globalIdOf(blockchain);
  blockchain.now = T0;
  const alice = await blockchain.treasury("alice");
  const mallory = await blockchain.treasury("mallory");
  const registry = blockchain.openContract(Registry.createFromConfig({ entryCode }, code));
  await registry.sendDeploy(alice.getSender(), toNano("0.05"));
  return {
    blockchain,
    registry,
    entryCode,
    alice,
    mallory,
    signed: (e, owner) => ({
      entry: e,
      proof: signKeyProof(secretOf(e) ?? generateKeyPair().secretKey, {
        globalId,
        registry: registry.address,
        owner,
        validUntil: (blockchain.now ?? T0) + 3600,
      }),
    }),
    entryOf: (owner) =>
      blockchain.openContract(
        ProviderEntryContract.createFromAddress(
          ProviderEntryContract.addressFor(entryCode, registry.address, owner),
        ),
      ),
    balance: async (address) => (await blockchain.getContract(address)).balance,
  };
}

/**
 * One registry for the file, back to its first state before each test (and the chain's clock to
 * `o.now`, when given): `use` receives it once it is deployed.
 */
export function freshRegistryForEachTest(use: (f: RegistryFixture) => void, o: { now?: number } = {}): void {
  let f: RegistryFixture;
  let start: BlockchainSnapshot;
  beforeAll(async () => {
    f = await registryFixture();
    start = f.blockchain.snapshot();
    use(f);
  });
  beforeEach(async () => {
    await f.blockchain.loadFrom(start);
    if (o.now !== undefined) f.blockchain.now = o.now;
  });
}
