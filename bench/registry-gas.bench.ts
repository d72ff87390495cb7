/**
 * Gas of every Registry and provider-entry operation, in the emulator at its bundled (mainnet)
 * basechain config, next to a wallet v5 transfer measured in the same run.
 */
import { toNano } from "@ton/core";
import { Blockchain } from "@ton/sandbox";
import { compiled } from "../contracts/compile";
import { RegistryParams } from "../contracts/generated/constants";
import {
  type KeyProof,
  type ProviderEntry,
  ProviderEntryContract,
  Registry,
  signKeyProof,
} from "../contracts/wrappers/registry";
import { generateKeyPair } from "../protocol/identity";
import { flatPrice } from "../protocol/pricing";
import { NETWORK_ID } from "../protocol/receipt";
import { on, row, walletBaseline } from "./gas-rows";
import { printTable } from "./table";

export default async function registryGasBench(): Promise<void> {
  const entryCode = (await compiled("providerEntry")).code;
  const code = (await compiled("registry")).code;
  const blockchain = await Blockchain.create();
  const owner = await blockchain.treasury("owner");
  // Before moving the clock: the wallet's message expires a minute after the real time.
  const rows = [await walletBaseline(blockchain, owner)];
  blockchain.now = 1_800_000_000;

  const registry = blockchain.openContract(Registry.createFromConfig({ entryCode }, code));
  await registry.sendDeploy(owner.getSender(), toNano("0.05"));
  const mine = blockchain.openContract(
    ProviderEntryContract.createFromAddress(
      ProviderEntryContract.addressFor(entryCode, registry.address, owner.address),
    ),
  );
  // An entry with a fresh identity key, and that key's proof that the owner may publish it here.
  const entry = (): { entry: ProviderEntry; proof: KeyProof } => {
    const key = generateKeyPair();
    return {
      entry: {
        identityKey: key.publicKey,
        payout: owner.address,
        models: [{ modelId: "Llama-3.2-1B-Instruct-q4f16_1-MLC", price: flatPrice(2000n) }],
      },
      proof: signKeyProof(key.secretKey, {
        globalId: NETWORK_ID.mainnet,
        registry: registry.address,
        owner: owner.address,
        validUntil: (blockchain.now ?? 0) + 3600,
      }),
    };
  };
  const first = entry();

  const reg = await registry.sendRegister(owner.getSender(), { ...first, value: toNano("0.1") });
  rows.push(row("register: registry", on(reg, registry.address), "validates, forwards"));
  rows.push(row("register: entry deployed", on(reg, mine.address), "records the registration time"));
  const again = await registry.sendRegister(owner.getSender(), { ...first, value: toNano("0.1") });
  rows.push(row("register again, same key: entry", on(again, mine.address), "keeps the registration time"));
  const upd = await mine.sendUpdate(owner.getSender(), { ...entry(), value: toNano("0.05") });
  rows.push(row("update, new identity key", on(upd, mine.address), "restarts the registration time"));
  const stake = await mine.sendAddStake(owner.getSender(), { amount: toNano("10"), value: toNano("10.05") });
  rows.push(row("add stake", on(stake, mine.address), "10 TON locked"));
  const leave = await mine.sendRemove(owner.getSender(), { value: toNano("0.05") });
  rows.push(row("remove, with stake", on(leave, mine.address), "unpublished, stake starts unlocking"));
  blockchain.now += Number(RegistryParams.UNLOCK_DELAY);
  const out = await mine.sendWithdrawStake(owner.getSender(), { value: toNano("0.05") });
  rows.push(row("withdraw stake", on(out, mine.address), "after the unlock delay; account deleted"));
  await registry.sendRegister(owner.getSender(), { ...entry(), value: toNano("0.1") });
  const bare = await mine.sendRemove(owner.getSender(), { value: toNano("0.05") });
  rows.push(row("remove, without stake", on(bare, mine.address), "account deleted"));
  printTable("Registry gas (mainnet config; wallet v5 transfer as baseline)", rows);
}
