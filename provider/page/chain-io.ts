import { Address, Cell } from "@ton/core";
import type { TonClient } from "@ton/ton";
import { chainClock } from "../../contracts/wrappers/chain-clock";
import { ProviderEntryContract, registryBodies } from "../../contracts/wrappers/registry";
import { equalBytes } from "../../protocol/encoding";
import type { KeyPair } from "../../protocol/identity";
import { flatPrice } from "../../protocol/pricing";
import type { ChainConfig } from "../../web/chain-config";
import { DEFAULT_MIN_CLOSE_DELAY } from "../account-gate";
import type { ReceiptStore } from "../receipt-store";
import { registerBody } from "../register-body";
import type { TonConnection } from "../ton-chain";

/**
 * What the provider page's chain store (`chain-store.svelte.ts`) does with `@ton/core` and
 * TonClient: connecting settlement, building a registration, reading the provider's entry. Part of
 * the page's lazy half (`page-core.ts`), so the page's first download carries no TON library.
 */

/** The provider's entry as published in the Registry. */
export interface RegisteredEntry {
  readonly payout: string;
  readonly models: string[];
  readonly stake: bigint;
  readonly registeredAt: number;
}

export interface ChainLink extends Pick<TonConnection, "settlement" | "gate" | "book"> {
  readonly client: TonClient;
}

/** TonClient and settlement through the chain the server names. */
export async function openChain(config: ChainConfig, receipts: ReceiptStore): Promise<ChainLink> {
  const [{ TonClient }, { connectTon }] = await Promise.all([import("@ton/ton"), import("../ton-chain")]);
  const ton = connectTon({
    endpoint: config.endpoint,
    store: receipts,
    // The server that serves this page names the Escrow code; only accounts running it are served.
    escrowCode: Cell.fromBase64(config.escrowCode),
    minCloseDelay: config.network === "devnet" ? config.closeDelay : DEFAULT_MIN_CLOSE_DELAY[config.network],
  });
  return {
    client: new TonClient({ endpoint: config.endpoint }),
    settlement: ton.settlement,
    gate: ton.gate,
    book: ton.book,
  };
}

/**
 * The Registry message (base64 BOC) that deploys or replaces this provider's entry, from `owner`'s
 * wallet, signed by the identity key for that owner, `registry` and network (register-body.ts).
 */
export function registerPayload(o: {
  identity: KeyPair;
  globalId: number;
  registry: string;
  owner: string;
  payout: string;
  model: string;
  price: bigint;
  /** The chain's time (ms; `chainSkewMs`): the key's proof is valid an hour from it. */
  nowMs: number;
}): string {
  const entry = {
    identityKey: o.identity.publicKey,
    payout: Address.parse(o.payout),
    models: [{ modelId: o.model, price: flatPrice(o.price) }],
  };
  return registerBody(o.identity.secretKey, entry, o, o.nowMs).toBoc().toString("base64");
}

/**
 * How far the chain's clock is ahead of this browser's (ms), read from the Registry's account: a
 * registration is handed to the wallet straight from the click, so it is read before (`chainClock`).
 */
export async function chainSkewMs(client: TonClient, config: ChainConfig): Promise<number> {
  if (!config.registry) return 0;
  return (await chainClock(client, Address.parse(config.registry))) * 1000 - Date.now();
}

/** The address of the entry `owner` holds in the Registry. */
export function entryAddress(config: ChainConfig, owner: string): string | undefined {
  if (!config.registry || !config.entryCode) return undefined;
  return ProviderEntryContract.addressFor(
    Cell.fromBase64(config.entryCode),
    Address.parse(config.registry),
    Address.parse(owner),
  ).toString();
}

/** The entry `owner` holds, when it names this identity key. */
export async function readEntry(
  client: TonClient,
  config: ChainConfig,
  owner: string,
  identityKey: Uint8Array,
): Promise<RegisteredEntry | undefined> {
  const address = entryAddress(config, owner);
  if (!address) return undefined;
  const found = await client.open(ProviderEntryContract.createFromAddress(Address.parse(address))).getEntry();
  if (!found || !equalBytes(found.entry.identityKey, identityKey)) return undefined;
  return {
    payout: found.entry.payout.toRawString(),
    models: found.entry.models.map((m) => m.modelId),
    stake: found.stake,
    registeredAt: found.registeredAt,
  };
}

/** Registry messages for the stake: lock `amount` more, leave the Registry (starts the unlock), take it back. */
export const stakePayloads = {
  add: (amount: bigint): string => registryBodies.addStake(amount).toBoc().toString("base64"),
  leave: (): string => registryBodies.remove().toBoc().toString("base64"),
  withdraw: (): string => registryBodies.withdrawStake().toBoc().toString("base64"),
};

/** The stake locked in `owner`'s entry and when it unlocks (0 while registered). */
export async function readStake(
  client: TonClient,
  config: ChainConfig,
  owner: string,
): Promise<{ stake: bigint; unlockAt: number }> {
  const address = entryAddress(config, owner);
  if (!address) return { stake: 0n, unlockAt: 0 };
  return client.open(ProviderEntryContract.createFromAddress(Address.parse(address))).getStake();
}
