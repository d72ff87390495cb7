import { Address, Cell, internal, loadStateInit, SendMode } from "@ton/core";
import { keyPairFromSeed } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import { Buffer } from "buffer";
import { chainClock } from "../contracts/wrappers/chain-clock";
import type { ChainConfig } from "./chain-config";
import { waitForChain } from "./chain-config";
import type { KvEntry } from "./page-db";
import type { Wallet, WalletConnector, WalletMessage, WalletTransaction } from "./wallet";

/** What one faucet click asks for: plenty for deposits, registration and gas. */
export const FAUCET_AMOUNT = 100_000_000_000n;

export class FaucetError extends Error {
  override readonly name = "FaucetError";
}

/**
 * The devnet's wallet: a wallet v5 key made in this browser and kept in IndexedDB, funded from the
 * devnet's faucet, signing through TonClient against the devnet. It is a `WalletConnector` like
 * TON Connect, so the pages do not care which one they hold. Test TON only: never on a real network.
 * This module pulls in `@ton/ton`; pages import it lazily.
 */
export class DevWallet implements WalletConnector {
  readonly network = "devnet" as const;
  private current: Wallet | undefined;
  private contract: ReturnType<TonClient["open"]> | undefined;
  private readonly client: TonClient;
  private readonly listeners = new Set<(w: Wallet | undefined) => void>();
  private preparing: Promise<void> | undefined;

  constructor(
    private readonly config: ChainConfig,
    /** Where the key's seed is kept: IndexedDB in a page, a file for the gateway's `init`. */
    private readonly seed: Pick<KvEntry<Uint8Array>, "get" | "set">,
  ) {
    if (config.network !== "devnet") throw new RangeError("the dev wallet exists only on the devnet");
    this.client = new TonClient({ endpoint: config.endpoint });
  }

  get ready(): boolean {
    return this.current !== undefined;
  }

  /** Loads (or makes) the key; the wallet is connected from then on. */
  prepare(): Promise<void> {
    this.preparing ??= this.load();
    return this.preparing;
  }

  private async load(): Promise<void> {
    let seed = await this.seed.get();
    if (!seed) {
      seed = crypto.getRandomValues(new Uint8Array(32));
      await this.seed.set(seed);
    }
    const keys = keyPairFromSeed(Buffer.from(seed));
    const client = this.client;
    const contract = client.open(WalletContractV5R1.create({ workchain: 0, publicKey: keys.publicKey }));
    this.contract = contract;
    this.current = {
      address: contract.address.toRawString(),
      network: "devnet",
      async sendTransaction(tx: WalletTransaction): Promise<void> {
        // Valid for a minute by the chain's clock: one of this machine's, hours off, is refused (exit 136).
        const [seqno, now] = await Promise.all([contract.getSeqno(), chainClock(client, contract.address)]);
        await contract.sendTransfer({
          seqno,
          timeout: now + 60,
          secretKey: keys.secretKey,
          sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
          messages: tx.messages.map(toInternal),
        });
        await waitForChain(async () => (await contract.getSeqno()) > seqno, "the dev wallet's transfer", {
          intervalMs: 300,
        });
      },
    };
    for (const l of this.listeners) l(this.current);
  }

  /** Always connected once prepared. */
  connect(): void {}

  async disconnect(): Promise<void> {}

  onChange(listener: (w: Wallet | undefined) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }

  /** The wallet's balance in nanoTON. */
  async balance(): Promise<bigint> {
    if (!this.contract) return 0n;
    return this.client.getBalance(this.contract.address);
  }

  /** Asks the devnet's faucet for test TON; resolves once the balance shows it. */
  async fund(amount = FAUCET_AMOUNT): Promise<void> {
    await this.prepare();
    const address = this.contract!.address;
    if (!this.config.faucet) throw new FaucetError("this server offers no faucet");
    const before = await this.balance();
    const res = await fetch(this.config.faucet, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: address.toString(), amount: amount.toString() }),
    });
    const body = (await res.json().catch(() => ({}))) as { ok?: boolean; error?: string };
    if (!res.ok || !body.ok) throw new FaucetError(`the faucet refused: ${body.error ?? res.status}`);
    await waitForChain(async () => (await this.balance()) > before, "the faucet's transfer", {
      intervalMs: 300,
    });
  }
}

/** A wallet message (base64 cells, as TON Connect takes them) as an internal message to sign. */
function toInternal(m: WalletMessage) {
  const friendly = Address.isFriendly(m.address) ? Address.parseFriendly(m.address) : undefined;
  return internal({
    to: friendly?.address ?? Address.parse(m.address),
    value: m.amount,
    bounce: friendly?.isBounceable ?? true,
    ...(m.payload && { body: Cell.fromBase64(m.payload) }),
    ...(m.stateInit && { init: loadStateInit(Cell.fromBase64(m.stateInit).beginParse()) }),
  });
}
