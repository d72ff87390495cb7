import {
  Address,
  beginCell,
  Cell,
  contractAddress,
  type OpenedContract,
  type Sender,
  type Transaction,
  toNano,
} from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import { afterAll, beforeAll } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { RequesterSession } from "../../client/sdk/requester-session";
import type { ReserveOptions } from "../../client/sdk/reserve-keeper";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { Escrow, storeEscrowInit } from "../../contracts/wrappers/escrow";
import {
  acceptSession,
  flatPrice,
  generateKeyPair,
  initiateSession,
  type KeyPair,
  type ModelPrice,
  memoryPipe,
  NETWORK_ID,
  type SecureSession,
  type StreamKey,
  streamId,
} from "../../protocol";
import { signReserve } from "../../protocol/reserve";
import {
  latestReceipt,
  MemoryReceiptStore,
  type ReceiptStore,
  type StreamRecord,
} from "../../provider/receipt-store";
import { heldIn } from "../../provider/serving/held-receipts";
import { type ServingEvent, SessionServer } from "../../provider/serving/session-server";
import { Slots } from "../../provider/serving/slots";
import type { SettlementPolicy } from "../../provider/settlement-policy";
import { connectTon, type TonConnection } from "../../provider/ton-chain";
import type { Engine } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * Requesters with real wallets and escrows on the devnet, and sessions between them and a
 * provider's serving loop (the same SessionServer the runtime makes) with the provider's real
 * gate, book and settlement on the devnet. Sessions run over an in-memory pipe: the chain is what
 * these tests are about; the transports have their own tests.
 */
export interface Requester {
  readonly wallet: Address;
  readonly send: Sender;
  readonly escrow: OpenedContract<Escrow>;
  readonly sessionKey: KeyPair;
  readonly account: MemoryPaymentAccount;
}

export async function devnetInfo(devnet: Devnet): Promise<{ escrowCode: Cell }> {
  const info = (await (await fetch(`${devnet.url}/devnet`)).json()) as { result: { escrowCode: string } };
  return { escrowCode: Cell.fromBase64(info.result.escrowCode) };
}

async function fundedWallet(devnet: Devnet, client: TonClient, amount: bigint) {
  const keys = await mnemonicToPrivateKey(await mnemonicNew());
  const wallet = client.open(WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }));
  const res = await fetch(`${devnet.url}/faucet`, {
    method: "POST",
    body: JSON.stringify({ address: wallet.address.toString(), amount: amount.toString() }),
  });
  if (!res.ok) throw new Error("faucet refused");
  return { wallet, send: wallet.sender(keys.secretKey), keys };
}

/** A requester whose escrow (close delay `closeDelay`) holds `deposit` less the deploy fees. */
export async function requester(
  devnet: Devnet,
  client: TonClient,
  o: { deposit: bigint; closeDelay: number; code: Cell },
): Promise<Requester> {
  const { wallet, send } = await fundedWallet(devnet, client, o.deposit + toNano("1"));
  const escrow = client.open(
    Escrow.createFromConfig(
      { owner: wallet.address, network: NETWORK_ID.devnet, closeDelay: o.closeDelay },
      o.code,
    ),
  );
  const sessionKey = generateKeyPair();
  await escrow.sendAddKey(send, { key: sessionKey.publicKey, value: o.deposit });
  return { wallet: wallet.address, send, escrow, sessionKey, account: new MemoryPaymentAccount() };
}

/**
 * An impostor: the Escrow's own code with a NOP in front (same getters, same behaviour, another
 * code hash) deployed with an Escrow's data, then given a key as any escrow would be.
 */
export async function impostorEscrow(
  devnet: Devnet,
  client: TonClient,
  o: { deposit: bigint; closeDelay: number; code: Cell },
): Promise<Requester> {
  const { wallet, send } = await fundedWallet(devnet, client, o.deposit + toNano("1"));
  const root = o.code;
  const code = beginCell().storeUint(0, 8).storeBits(root.bits).storeRef(root.refs[0]!).endCell();
  const data = beginCell()
    .store(storeEscrowInit({ owner: wallet.address, network: NETWORK_ID.devnet, closeDelay: o.closeDelay }))
    .endCell();
  const init = { code, data };
  const opened = client.open(new Escrow(contractAddress(0, init), init));
  const sessionKey = generateKeyPair();
  await opened.sendAddKey(send, { key: sessionKey.publicKey, value: o.deposit });
  return { wallet: wallet.address, send, escrow: opened, sessionKey, account: new MemoryPaymentAccount() };
}

export interface ProviderSide {
  readonly payout: Address;
  readonly ton: TonConnection;
  readonly store: ReceiptStore;
  readonly engine: Engine;
  readonly price: ModelPrice;
  readonly creditWindowTokens: number;
  /** The model's declared context window: what a prompt's bound is by default (unreserved-floor.ts). */
  readonly contextWindow?: number;
}

/** 0.001 TON a token: escrows run dry in tens of tokens. */
export const DEVNET_PRICE = flatPrice(1_000_000n);
export const DEVNET_WINDOW = 8;

/** A devnet for one test file, on a clock its tests move (`now`, in seconds), with the Escrow code providers serve. */
export interface DevnetChain {
  readonly devnet: Devnet;
  readonly client: TonClient;
  readonly code: Cell;
  now: number;
  requester(o: { deposit: bigint; closeDelay: number }): Promise<Requester>;
  /**
   * A provider with a fresh payout that never held TON: its balance is exactly what claims paid it.
   * `store` and `payout`: an earlier provider's, as it starts again after a restart.
   */
  provider(
    engine?: ScriptedEngine,
    policy?: Partial<SettlementPolicy>,
    o?: {
      unreservedNano?: bigint | "whole-balance";
      contextWindow?: number;
      store?: ReceiptStore;
      payout?: Address;
      /** The provider's log of failures it keeps going past (connectTon's `warn`). */
      warn?: (message: string) => void;
    },
  ): ProviderSide;
}

export function useDevnetChain(): DevnetChain {
  const chain = { now: Math.floor(Date.now() / 1000) } as DevnetChain & {
    devnet: Devnet;
    client: TonClient;
    code: Cell;
  };
  beforeAll(async () => {
    chain.devnet = await startDevnet({ clock: () => chain.now });
    chain.client = new TonClient({ endpoint: chain.devnet.endpoint });
    chain.code = (await devnetInfo(chain.devnet)).escrowCode;
  });
  afterAll(async () => {
    await chain.devnet?.close();
  });
  chain.requester = (o) => requester(chain.devnet, chain.client, { ...o, code: chain.code });
  chain.provider = (engine = new ScriptedEngine(), policy, o) => {
    const store = o?.store ?? new MemoryReceiptStore();
    const ton = connectTon({
      endpoint: chain.devnet.endpoint,
      store,
      escrowCode: chain.code,
      minCloseDelay: 30,
      ...(policy && { policy }),
      ...(o?.unreservedNano !== undefined && { unreservedNano: o.unreservedNano }),
      ...(o?.warn && { warn: o.warn }),
    });
    const payout = o?.payout ?? new Address(0, Buffer.from(generateKeyPair().publicKey));
    return {
      payout,
      ton,
      store,
      engine,
      price: DEVNET_PRICE,
      creditWindowTokens: DEVNET_WINDOW,
      ...(o?.contextWindow !== undefined && { contextWindow: o.contextWindow }),
    };
  };
  return chain;
}

/** One session between a requester and the provider's serving loop; resolves once the account is open. */
export async function openSession(
  p: ProviderSide,
  r: Requester,
  events: ServingEvent[] = [],
  reserve?: ReserveOptions,
): Promise<{ session: RequesterSession; requester: SecureSession; close: () => void }> {
  const identity = generateKeyPair();
  const [a, b] = memoryPipe();
  const fp = { sessionId: "s", requesterFingerprint: "x", providerFingerprint: "y" };
  const [requesterSide, providerSide] = await Promise.all([
    initiateSession(a, { ...fp, providerIdentity: identity.publicKey, sessionKey: r.sessionKey }),
    acceptSession(b, { ...fp, identity }),
  ]);
  const server = new SessionServer(providerSide, {
    engine: p.engine,
    models: [
      {
        model: "test-model",
        price: p.price,
        ...(p.contextWindow !== undefined && { contextWindow: p.contextWindow }),
      },
    ],
    network: NETWORK_ID.devnet,
    payout: p.payout,
    receipts: heldIn(p.store, p.ton.settlement),
    slots: new Slots(4, 8),
    creditWindowTokens: p.creditWindowTokens,
    gate: p.ton.gate,
    book: p.ton.book,
    onEvent: (e) => events.push(e),
  });
  const session = await RequesterSession.open(requesterSide, {
    sessionKey: r.sessionKey,
    keyEpoch: 1,
    network: NETWORK_ID.devnet,
    escrow: r.escrow.address,
    payout: p.payout,
    maxPrice: { promptNanoPerToken: p.price.nanoPerToken, completionNanoPerToken: p.price.nanoPerToken },
    account: r.account,
    receiptEvery: 4,
    ...(reserve && { reserve }),
  });
  return {
    session,
    requester: requesterSide,
    close: () => {
      requesterSide.close();
      const stream = server.streamId;
      if (stream) void p.ton.settlement.endSession([stream]);
    },
  };
}

export type DevnetSession = Awaited<ReturnType<typeof openSession>>;

/** Every external claim the escrow took: what it paid for them (payout messages and the claims' fees) and those fees. */
export async function claimsOn(
  client: TonClient,
  escrow: Address,
): Promise<{ paid: bigint; fees: bigint; count: number }> {
  const txs: Transaction[] = await client.getTransactions(escrow, { limit: 100 });
  let paid = 0n;
  let fees = 0n;
  let count = 0;
  for (const tx of txs) {
    if (tx.inMessage?.info.type !== "external-in") continue;
    const out = tx.outMessages.get(0);
    if (out?.info.type !== "internal") continue;
    // The escrow's own storage rent is in its fees, but the escrow pays it, not the claim.
    const d = tx.description;
    const rent = d.type === "generic" ? (d.storagePhase?.storageFeesCollected ?? 0n) : 0n;
    const fee = tx.totalFees.coins - rent + out.info.forwardFee;
    count++;
    fees += fee;
    paid += out.info.value.coins + fee;
  }
  return { paid, fees, count };
}

/** Polls `check` until it holds (every 25 ms), or fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `n` distinct words: a prompt or an answer of about `n` tokens. */
export const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

/** A question of `n` words to the model `openSession` serves. */
export const ask = (n: number) => ({
  model: "test-model",
  messages: [{ role: "user" as const, content: words(n) }],
});

/** The stream from requester `r` to provider `p`: the devnet, `r`'s escrow, `p`'s payout, key epoch 1. */
export const streamOf = (p: ProviderSide, r: Requester): StreamKey => ({
  network: NETWORK_ID.devnet,
  escrow: r.escrow.address,
  payout: p.payout,
  keyEpoch: 1,
});

/** What `p` holds on the stream from `r` (undefined before its first receipt). */
export const recordOf = (p: ProviderSide, r: Requester): Promise<StreamRecord | undefined> =>
  p.store.get(streamId(streamOf(p, r)));

/** The newest receipt `p` holds from `r`: what it is owed (0 before any). */
export async function owedTo(p: ProviderSide, r: Requester): Promise<bigint> {
  const record = await recordOf(p, r);
  return record ? latestReceipt(record).receipt.amount : 0n;
}

/**
 * `r`'s session key raises its reserve for `p`'s stream to `amount` (valid until `now` + 600 s),
 * and the raise is seen on chain.
 */
export async function raiseReserve(
  r: Requester,
  p: ProviderSide,
  amount: bigint,
  now: number,
): Promise<void> {
  const signed = signReserve({ ...streamOf(p, r), validUntil: now + 600, reserved: amount }, r.sessionKey);
  await r.escrow.sendReserve(signed);
  await until(async () => (await r.escrow.getReserve(1, p.payout)).reserved === amount);
}
