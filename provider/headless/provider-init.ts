import { Address, Cell } from "@ton/core";
import { TonClient } from "@ton/ton";
import { chainClock } from "../../contracts/wrappers/chain-clock";
import { ProviderEntryContract, registryBodies } from "../../contracts/wrappers/registry";
import { fileSeed, loadOrCreateKey } from "../../peer/key-file";
import {
  basechainPayout,
  encodePublicKey,
  equalBytes,
  formatTon,
  type ModelPrice,
  type NetworkName,
} from "../../protocol";
import type { ChainConfig } from "../../web/chain-config";
import { serverChain } from "../../web/chosen-chain";
import { type OwnerWallet, ownerWallet } from "../../web/owner-wallet";
import { registerBody } from "../register-body";
import { ENTRY_OP_VALUE, REGISTER_VALUE, STAKE_EXTRA } from "../registry-values";
import { type ProviderState, writeProviderState } from "./provider-state";

/**
 * `npm run provider -- init` and `npm run provider -- stake …`: what a headless provider needs on
 * chain before requesters will talk to it. Makes or reads the identity key, and publishes it in the
 * Registry with the payout address and the model's price (and locks a stake in the entry when
 * asked): on the devnet from a wallet of its own funded by the faucet, on testnet and mainnet from
 * the user's wallet through printed `ton://transfer` links, waiting for each on chain. It stores
 * the network, the Registry, the owner and the payout, which `npm run provider` then reads.
 */
export interface ProviderInitOptions {
  readonly signalingUrl: string;
  /** The network the user chose (default devnet): a server naming another is refused. */
  readonly network?: NetworkName;
  /** The TON endpoint the user chose; else the server's on the devnet, or a public one (`chosenChain`). */
  readonly tonEndpoint?: string;
  readonly keyFile: string;
  readonly stateFile: string;
  /** The devnet wallet's seed file (devnet only). */
  readonly walletFile: string;
  /** The wallet that pays and owns the entry (testnet and mainnet: yours). */
  readonly owner?: string;
  /** Where receipts pay (default: the owner). */
  readonly payout?: string;
  readonly model: string;
  readonly price: ModelPrice;
  /** nanoTON the entry should hold locked at least; what is missing is added. */
  readonly stake?: bigint;
  readonly timeoutMs?: number;
  readonly say: (line: string) => void;
}

export async function initProvider(o: ProviderInitOptions): Promise<ProviderState> {
  // Before any key, file or chain read: a payout the Escrow cannot pay is never registered.
  if (o.payout) basechainPayout(o.payout);
  const { key, created } = loadOrCreateKey(o.keyFile);
  o.say(`identity key ${encodePublicKey(key.publicKey)} (${created ? "new" : "from"} ${o.keyFile})`);
  const { chain, entry, wallet } = await entryOf(o);
  const payout = basechainPayout(o.payout ?? wallet.owner);
  const show = (a: Address) => a.toString({ testOnly: chain.network !== "mainnet" });
  o.say(
    `payout ${show(payout)}; entry ${show(entry.address)} owned by ${show(wallet.owner)} on ${chain.network}`,
  );

  const published = {
    identityKey: key.publicKey,
    payout,
    models: [{ modelId: o.model, price: o.price }],
  };
  // The key's proof is valid for an hour by the chain's clock: this machine's may be hours behind it.
  const chainNowMs =
    (await chainClock(new TonClient({ endpoint: chain.endpoint }), Address.parse(chain.registry!))) * 1000;
  await wallet.send(
    tx(
      chain.registry!,
      REGISTER_VALUE,
      registerBody(
        key.secretKey,
        published,
        {
          globalId: chain.globalId,
          registry: chain.registry!,
          owner: wallet.owner,
        },
        chainNowMs,
      ),
    ),
    `register ${o.model} at ${o.price.nanoPerToken} nanoTON per token in the Registry`,
    async () => {
      const found = await entry.getEntry();
      return (
        !!found &&
        equalBytes(found.entry.identityKey, key.publicKey) &&
        found.entry.payout.equals(payout) &&
        found.entry.models.some((m) => m.modelId === o.model && samePrice(m.price, o.price))
      );
    },
  );
  if (o.stake) await addStake(entry, wallet, o.stake, o.say);
  const standing = await entry.getEntry();
  const state: ProviderState = {
    network: chain.network,
    signalingUrl: o.signalingUrl,
    tonEndpoint: chain.endpoint,
    ...(o.tonEndpoint && { tonEndpointGiven: true as const }),
    registry: chain.registry!,
    owner: wallet.owner.toRawString(),
    payout: payout.toRawString(),
  };
  writeProviderState(o.stateFile, state);
  o.say(
    `registered since ${new Date((standing?.registeredAt ?? 0) * 1000).toISOString()}, stake ${formatTon(standing?.stake ?? 0n)} TON`,
  );
  o.say(
    `saved to ${o.stateFile}: start serving with \`npm run provider -- --backend URL --model ${o.model} --price ${o.price.nanoPerToken}\``,
  );
  return state;
}

export type StakeOptions = Omit<ProviderInitOptions, "model" | "price" | "stake" | "payout" | "keyFile">;

/** `stake add AMOUNT`: locks `amount` more in the entry (it must be registered). */
export async function stakeMore(o: StakeOptions, amount: bigint): Promise<bigint> {
  const { entry, wallet } = await entryOf(o);
  const before = await entry.getEntry();
  if (!before) throw new Error("the entry is not registered: run `npm run provider -- init` first");
  return addStake(entry, wallet, before.stake + amount, o.say);
}

/**
 * `stake withdraw`: a registered entry is removed first (requesters stop choosing it at once, and
 * the stake unlocks after the Registry's delay); once unlocked, the stake is sent back.
 */
export async function withdrawStake(
  o: StakeOptions,
  now: () => number = () => Date.now() / 1000,
): Promise<{ stake: bigint; unlockAt: number }> {
  const { entry, wallet } = await entryOf(o);
  if (await entry.getEntry()) {
    await wallet.send(
      tx(entry.address, ENTRY_OP_VALUE, registryBodies.remove()),
      "leave the Registry",
      async () => !(await entry.getEntry()),
    );
  }
  const locked = await entry.getStake();
  if (locked.stake === 0n) {
    o.say("no stake is locked in the entry");
    return locked;
  }
  if (locked.unlockAt > now()) {
    o.say(
      `${formatTon(locked.stake)} TON unlocks at ${new Date(locked.unlockAt * 1000).toISOString()}; run \`stake withdraw\` again then`,
    );
    return locked;
  }
  await wallet.send(
    tx(entry.address, ENTRY_OP_VALUE, registryBodies.withdrawStake()),
    `withdraw ${formatTon(locked.stake)} TON of stake`,
    async () => (await entry.getStake()).stake === 0n,
  );
  o.say(`${formatTon(locked.stake)} TON of stake sent back to the owner`);
  return { stake: 0n, unlockAt: 0 };
}

async function addStake(
  entry: OpenedEntry,
  wallet: OwnerWallet,
  target: bigint,
  say: (line: string) => void,
): Promise<bigint> {
  const have = (await entry.getEntry())?.stake ?? 0n;
  if (have < target) {
    const amount = target - have;
    await wallet.send(
      tx(entry.address, amount + STAKE_EXTRA, registryBodies.addStake(amount)),
      `lock ${formatTon(amount)} TON of stake in the entry`,
      async () => ((await entry.getEntry())?.stake ?? 0n) >= target,
    );
  }
  say(`stake locked in the entry: ${formatTon(target > have ? target : have)} TON`);
  return target > have ? target : have;
}

type OpenedEntry = ReturnType<typeof openEntry>;

function openEntry(client: TonClient, address: Address) {
  return client.open(ProviderEntryContract.createFromAddress(address));
}

/** The chain the server names, this owner's wallet, and its entry in the Registry. */
async function entryOf(
  o: StakeOptions,
): Promise<{ chain: ChainConfig; wallet: OwnerWallet; entry: OpenedEntry }> {
  // The server's word is checked before a wallet is asked for anything: only the Registry of the
  // code compiled here is registered in, on the user's network, read through an endpoint the user
  // (or this build) chose.
  const chain = await serverChain(o.signalingUrl, o);
  if (!chain.registry || !chain.entryCode) throw new Error(`no Registry is deployed on ${chain.network} yet`);
  const wallet = await ownerWallet(chain, {
    seed: fileSeed(o.walletFile),
    ...(o.owner && { owner: o.owner }),
    ...(o.timeoutMs && { timeoutMs: o.timeoutMs }),
    say: o.say,
  });
  const address = ProviderEntryContract.addressFor(
    Cell.fromBase64(chain.entryCode),
    Address.parse(chain.registry),
    wallet.owner,
  );
  return { chain, wallet, entry: openEntry(new TonClient({ endpoint: chain.endpoint }), address) };
}

function tx(to: string | Address, amount: bigint, body: Cell) {
  return { messages: [{ address: to.toString(), amount, payload: body.toBoc().toString("base64") }] };
}

function samePrice(a: ModelPrice, b: ModelPrice): boolean {
  return (
    a.nanoPerToken === b.nanoPerToken &&
    a.promptMultiplierBps === b.promptMultiplierBps &&
    a.completionMultiplierBps === b.completionMultiplierBps
  );
}
