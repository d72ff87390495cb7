/**
 * The devnet's chain: the TON emulator (@ton/sandbox) with a faucet, Silk's contracts deployed
 * at start, a transaction index per account, and its whole state saved to a directory after
 * every change, so it survives a restart. Operations run one at a time, in arrival order.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Address, Cell, loadMessage, loadTransaction, type Transaction, type TupleItem } from "@ton/core";
import {
  Blockchain,
  type BlockchainTransaction,
  GetMethodError,
  type SandboxContract,
  snapshotFromSerializable,
  snapshotToSerializable,
  type TreasuryContract,
} from "@ton/sandbox";
import { loadConfigParamById } from "@ton/ton";
import { NETWORK_ID } from "../../protocol/receipt";
import { compiled } from "../compile";
import { setGlobalId } from "../sandbox-network";
import { Registry } from "../wrappers/registry";

type SerializableSnapshot = ReturnType<typeof snapshotToSerializable>;

export const DEVNET_GLOBAL_ID = NETWORK_ID.devnet;
/** The most one faucet request hands out. */
export const MAX_FAUCET_NANO = 10_000n * 1_000_000_000n;

interface SavedChain {
  version: 1;
  snapshot: SerializableSnapshot;
  /** Every transaction ever run, in order, as base64 BOCs. */
  transactions: string[];
}

export class ChainRefusedError extends Error {
  override readonly name = "ChainRefusedError";
  constructor(
    message: string,
    readonly exitCode?: number,
  ) {
    super(message);
  }
}

export class DevnetChain {
  private readonly byAccount = new Map<string, Transaction[]>();
  private readonly log: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private lastNow = 0;

  private constructor(
    private readonly blockchain: Blockchain,
    private readonly faucetWallet: SandboxContract<TreasuryContract>,
    readonly registry: Address,
    readonly escrowCode: Cell,
    readonly providerEntryCode: Cell,
    private readonly dataDir: string | undefined,
    private readonly clock: () => number,
  ) {}

  /** Opens the chain saved in `dataDir` (or a fresh one) and deploys what is missing. */
  static async open(opts: { dataDir?: string; clock?: () => number } = {}): Promise<DevnetChain> {
    const clock = opts.clock ?? (() => Math.floor(Date.now() / 1000));
    const blockchain = await Blockchain.create();
    let saved: SavedChain | undefined;
    if (opts.dataDir) {
      mkdirSync(opts.dataDir, { recursive: true });
      try {
        saved = JSON.parse(readFileSync(join(opts.dataDir, "chain.json"), "utf8")) as SavedChain;
      } catch {
        saved = undefined;
      }
      if (saved) await blockchain.loadFrom(snapshotFromSerializable(saved.snapshot));
    }
    // The devnet's own network: what contracts read as the chain's global id (config param 19),
    // so a Registry key proof made for the devnet holds here and nowhere else.
    setGlobalId(blockchain, DEVNET_GLOBAL_ID);
    // The chain's clock never goes back, not even across a restart.
    const startNow = Math.max(saved?.snapshot.time ?? 0, clock());
    blockchain.now = startNow;
    const [escrow, registryCode, entry] = await Promise.all([
      compiled("escrow"),
      compiled("registry"),
      compiled("providerEntry"),
    ]);
    const faucetWallet = await blockchain.treasury("silk-devnet-faucet");
    const registry = blockchain.openContract(
      Registry.createFromConfig({ entryCode: entry.code }, registryCode.code),
    );
    const chain = new DevnetChain(
      blockchain,
      faucetWallet,
      registry.address,
      escrow.code,
      entry.code,
      opts.dataDir,
      clock,
    );
    for (const boc of saved?.transactions ?? [])
      chain.index(loadTransaction(Cell.fromBase64(boc).beginParse()), boc);
    chain.lastNow = startNow;
    await chain.run(async () => {
      if ((await blockchain.getContract(registry.address)).accountState?.type !== "active") {
        const r = await registry.sendDeploy(faucetWallet.getSender(), 1_000_000_000n);
        chain.record(r.transactions);
      }
    });
    return chain;
  }

  /** Runs one operation at a time, with the chain's clock set, and saves the state after it. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      this.lastNow = Math.max(this.lastNow, this.clock());
      this.blockchain.now = this.lastNow;
      const result = await op();
      this.save();
      return result;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private index(tx: Transaction, boc: string): void {
    const key = `0:${tx.address.toString(16).padStart(64, "0")}`;
    let list = this.byAccount.get(key);
    if (!list) {
      list = [];
      this.byAccount.set(key, list);
    }
    list.push(tx);
    this.log.push(boc);
  }

  private record(txs: BlockchainTransaction[]): void {
    for (const tx of txs) this.index(tx, tx.raw.toBoc().toString("base64"));
  }

  private save(): void {
    if (!this.dataDir) return;
    const snapshot = snapshotToSerializable({ ...this.blockchain.snapshot(), transactions: [] });
    const saved: SavedChain = { version: 1, snapshot, transactions: this.log };
    const file = join(this.dataDir, "chain.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(saved));
    renameSync(`${file}.tmp`, file);
  }

  /** Runs an external message (a BOC) and everything it causes; refuses one no contract accepts. */
  sendBoc(boc: Buffer): Promise<void> {
    return this.run(async () => {
      const msg = loadMessage(Cell.fromBoc(boc)[0]!.beginParse());
      if (msg.info.type !== "external-in") throw new ChainRefusedError("only external messages can be sent");
      try {
        const r = await this.blockchain.sendMessage(msg);
        this.record(r.transactions);
      } catch (err) {
        const code = (err as { exitCode?: number }).exitCode;
        throw new ChainRefusedError(
          `external message not accepted${code !== undefined ? ` (exit code ${code})` : ""}`,
          code,
        );
      }
    });
  }

  /** Sends `amount` nanoTON from the faucet, non-bounceable, so it lands on undeployed wallets. */
  faucet(to: Address, amount: bigint): Promise<void> {
    if (amount <= 0n || amount > MAX_FAUCET_NANO)
      throw new ChainRefusedError(`faucet gives between 1 and ${MAX_FAUCET_NANO} nanoTON`);
    return this.run(async () => {
      const r = await this.faucetWallet.send({ to, value: amount, bounce: false });
      this.record(r.transactions);
    });
  }

  account(address: Address) {
    return this.run(async () => {
      const c = await this.blockchain.getContract(address);
      const list = this.byAccount.get(address.toRawString()) ?? [];
      const last = list[list.length - 1];
      const state = c.accountState;
      return {
        balance: c.balance,
        state: state?.type === "active" ? "active" : state?.type === "frozen" ? "frozen" : "uninitialized",
        code: state?.type === "active" && state.state.code ? state.state.code : undefined,
        data: state?.type === "active" && state.state.data ? state.state.data : undefined,
        last: last ? { lt: last.lt, hash: last.hash() } : undefined,
        now: this.lastNow,
      } as const;
    });
  }

  runGetMethod(address: Address, method: string, stack: TupleItem[]) {
    return this.run(async () => {
      try {
        const r = await this.blockchain.runGetMethod(address, method, stack);
        return { exitCode: r.exitCode, gasUsed: Number(r.gasUsed), stack: r.stack };
      } catch (err) {
        if (err instanceof GetMethodError)
          return { exitCode: err.exitCode, gasUsed: Number(err.gasUsed), stack: [] as TupleItem[] };
        throw err;
      }
    });
  }

  /** An account's transactions, newest first, from (lt, hash) when given. */
  transactions(address: Address, limit: number, lt?: bigint): Transaction[] {
    const all = [...(this.byAccount.get(address.toRawString()) ?? [])].reverse();
    const from = lt === undefined ? 0 : all.findIndex((t) => t.lt <= lt);
    return from < 0 ? [] : all.slice(from, from + limit);
  }

  /** A parameter of the chain's config (the emulator's, mainnet's prices) as its value cell. */
  configParam(id: number): Cell | undefined {
    return Number.isInteger(id) ? loadConfigParamById(this.blockchain.configBase64, id) : undefined;
  }

  get now(): number {
    return this.lastNow;
  }

  /** Waits for queued operations to finish (the state is saved after each one). */
  async close(): Promise<void> {
    await this.queue;
  }
}

export function parseAddress(text: unknown): Address {
  if (typeof text !== "string") throw new ChainRefusedError("address missing");
  try {
    return Address.parse(text);
  } catch {
    throw new ChainRefusedError("malformed address");
  }
}
