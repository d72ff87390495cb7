import { type Address, toNano } from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import { type TonClient, WalletContractV5R1 } from "@ton/ton";
import { DEVNET_GLOBAL_ID, type Devnet } from "../../contracts/devnet";
import { ProviderEntryContract, Registry, signKeyProof } from "../../contracts/wrappers/registry";
import { generateKeyPair, type KeyPair } from "../../protocol/identity";

/** A provider registered in the devnet's Registry through its own wallet v5 (the owner, by default also its payout). */
export interface RegisteredProvider {
  readonly identity: KeyPair;
  readonly owner: Address;
  readonly payout: Address;
  /** What it tells the signaling server of its entry, as read back from the chain. */
  readonly entry: { owner: string; stake: bigint; registeredAt: number };
}

/**
 * Funds a fresh wallet from the faucet, registers it for `models` and stakes `stake` (if any).
 * `payout` may be anyone's; `identity` must be held here: the Registry publishes a key only with its
 * holder's signature for this owner (a second entry with the same key is one its holder signed for).
 */
export async function registerOnDevnet(
  devnet: Devnet,
  client: TonClient,
  opts: { models: readonly string[]; stake?: bigint; identity?: KeyPair; payout?: Address },
): Promise<RegisteredProvider> {
  const keys = await mnemonicToPrivateKey(await mnemonicNew());
  const wallet = client.open(WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }));
  const stake = opts.stake ?? 0n;
  const funded = await fetch(`${devnet.url}/faucet`, {
    method: "POST",
    body: JSON.stringify({ address: wallet.address.toString(), amount: (stake + toNano("5")).toString() }),
  });
  if (!funded.ok) throw new Error(`faucet: ${funded.status}`);
  const identity = opts.identity ?? generateKeyPair();
  const payout = opts.payout ?? wallet.address;
  const sender = wallet.sender(keys.secretKey);
  const registry = client.open(Registry.createFromAddress(devnet.chain.registry));
  await registry.sendRegister(sender, {
    entry: {
      identityKey: identity.publicKey,
      payout,
      models: opts.models.map((modelId) => ({
        modelId,
        price: { nanoPerToken: 10n, promptMultiplierBps: 10_000, completionMultiplierBps: 10_000 },
      })),
    },
    proof: signKeyProof(identity.secretKey, {
      globalId: DEVNET_GLOBAL_ID,
      registry: registry.address,
      owner: wallet.address,
      validUntil: Math.floor(Date.now() / 1000) + 3600,
    }),
    value: toNano("0.1"),
  });
  const entry = client.open(
    ProviderEntryContract.createFromAddress(await registry.getEntryAddress(wallet.address)),
  );
  if (stake > 0n) await entry.sendAddStake(sender, { amount: stake, value: stake + toNano("0.05") });
  const got = await entry.getEntry();
  if (!got) throw new Error("registration did not land");
  return {
    identity,
    owner: wallet.address,
    payout,
    entry: { owner: wallet.address.toString(), stake: got.stake, registeredAt: got.registeredAt },
  };
}
