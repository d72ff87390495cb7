import type { TonClient } from "@ton/ton";
import type { KeyPair } from "../../protocol/identity";
import { formatTon } from "../../protocol/ton-amount";
import type { ChainConfig } from "../../web/chain-config";
import {
  ChainChangedError,
  type ChainPin,
  type ChainPinStore,
  chainPinKey,
  pinnedChain,
} from "../../web/chain-pin";
import type { DevWallet } from "../../web/dev-wallet";
import type { SilkDb } from "../../web/page-db";
import type { Wallet, WalletConnector } from "../../web/wallet";
import type { AccountGate } from "../account-gate";
import type { EscrowBook } from "../escrow-book";
import type { ReceiptStore } from "../receipt-store";
import { REGISTER_VALUE } from "../registry-values";
import type { Settlement, SettlementStatus } from "../settlement";
import type { RegisteredEntry } from "./chain-io";
import { claimOutcome } from "./claim-outcome";
import { describeError } from "./page-rules";

export type { RegisteredEntry };

/** The page's lazy half (`page-core.ts`): everything here that needs `@ton/core` goes through it. */
type PageCore = typeof import("./page-core");

class ClaimError extends Error {
  override readonly name = "ClaimError";
}

export { REGISTER_VALUE };

/** How soon a failed read of the chain's clock is tried again, ms. */
const CLOCK_RETRY_MS = 5_000;

/**
 * The provider page's chain: the network the server names, the wallet (the devnet's dev wallet or
 * TON Connect), registration in the Registry, and settlement through the runtime's `Settlement`
 * (claims are external messages: no TON needed), with the gate that refuses unfunded escrows.
 */
export class ProviderChain {
  config = $state<ChainConfig | undefined>();
  unavailable = $state<string | undefined>();
  /** Set when the server names another network or endpoint than this browser used with it. */
  chainChanged = $state<ChainChangedError | undefined>();
  /** Runs `init` again with its first arguments (after the user accepts a changed chain). */
  private initAgain: (() => Promise<void>) | undefined;
  /** The chain this browser used with the server (`web/chain-pin.ts`). */
  private pin: ChainPinStore | undefined;
  walletReady = $state(false);
  walletAddress = $state<string | undefined>();
  walletBalance = $state<bigint | undefined>();
  /** The entry as published in the Registry, when it matches this identity key. */
  registered = $state<RegisteredEntry | undefined>();
  /** Whether `registered` comes from a reading of the Registry (not yet read: unknown). */
  entryRead = $state(false);
  status = $state<SettlementStatus | undefined>();
  busy = $state<string | undefined>();
  problem = $state<string | undefined>();
  notice = $state<string | undefined>();
  /** What the last notice or problem is about ("Claim", "Registration", …), so each shows by its button. */
  lastAction = $state<string | undefined>();

  settlement: Settlement | undefined;
  gate: AccountGate | undefined;
  book: EscrowBook | undefined;
  /** The stake locked in this provider's entry, and when it unlocks (0 while registered). */
  stake = $state<{ stake: bigint; unlockAt: number } | undefined>();
  /** @internal for `stake-flow.ts`. */
  client: TonClient | undefined;
  /**
   * The chain's clock less this browser's (ms), once read: a registration's key proof is dated by
   * it, so Register waits for it (`registerClockWait`); never this browser's clock instead.
   */
  private skewMs = $state<number | undefined>();
  /** Why the last read of the chain's clock failed (it is read again every `CLOCK_RETRY_MS`). */
  private clockProblem = $state<string | undefined>();
  private connector: WalletConnector | undefined;
  /** @internal for `stake-flow.ts`. */
  wallet: Wallet | undefined;
  private identity!: KeyPair;
  private db!: SilkDb;
  /** @internal for `stake-flow.ts`. */
  core!: PageCore;

  /** `onWallet` is told the wallet's address, which becomes the payout address when none is set. */
  async init(
    core: PageCore,
    serverUrl: string,
    db: SilkDb,
    identity: KeyPair,
    receipts: ReceiptStore,
    onWallet: (address: string) => void,
  ): Promise<void> {
    this.core = core;
    this.db = db;
    this.identity = identity;
    this.initAgain = () => this.init(core, serverUrl, db, identity, receipts, onWallet);
    this.pin = new core.KvEntry<ChainPin>(db, chainPinKey(serverUrl));
    try {
      const config = await core.fetchChainConfig(serverUrl);
      if (!config) {
        this.unavailable =
          "This Silk server names no TON network: receipts are kept here but cannot be claimed.";
        return;
      }
      await pinnedChain(config, serverUrl, this.pin);
      this.config = config;
    } catch (err) {
      if (err instanceof ChainChangedError) this.chainChanged = err;
      this.unavailable = describeError(err);
      return;
    }
    ({
      client: this.client,
      settlement: this.settlement,
      gate: this.gate,
      book: this.book,
    } = await core.openChain(this.config, receipts));
    this.readClock();
    // The dev wallet is ready at once (a key in IndexedDB); TON Connect restores in the background.
    const wallet = this.prepareWallet(onWallet);
    if (this.config.network === "devnet") await wallet;
    await this.refresh();
  }

  /** Reads the chain's clock, and again every `CLOCK_RETRY_MS` while a read fails. */
  /** The user accepts the chain the server now names (`chainChanged`): pinned, and read again. */
  async acceptChainChange(): Promise<void> {
    const changed = this.chainChanged;
    if (!changed || !this.pin) return;
    await this.pin.set(changed.named);
    this.chainChanged = undefined;
    this.unavailable = undefined;
    await this.initAgain?.();
  }

  private readClock(): void {
    const client = this.client;
    const config = this.config;
    if (!client || !config) return;
    this.core.chainSkewMs(client, config).then(
      (ms) => {
        this.skewMs = ms;
        this.clockProblem = undefined;
      },
      (err: unknown) => {
        this.clockProblem = describeError(err);
        setTimeout(() => this.readClock(), CLOCK_RETRY_MS);
      },
    );
  }

  /** Why Register must wait for the chain's clock, while it has not been read. */
  registerClockWait(): string | undefined {
    if (this.skewMs !== undefined) return undefined;
    const why = "the registration's key proof is dated by the TON network's clock, not this browser's";
    return this.clockProblem
      ? `the TON network's clock could not be read (${this.clockProblem}); reading it again: ${why}`
      : `reading the TON network's clock first: ${why}`;
  }

  private prepareWallet(onWallet: (address: string) => void): Promise<void> {
    const config = this.config!;
    const load = async (): Promise<WalletConnector> =>
      config.network === "devnet"
        ? new (await import("../../web/dev-wallet")).DevWallet(
            config,
            new this.core.KvEntry(this.db, "devnet.wallet-seed"),
          )
        : new (await import("../../web/tonconnect-wallet")).TonConnectWallet({ network: config.network });
    return load()
      .then(async (connector) => {
        this.connector = connector;
        connector.onChange((w) => {
          this.wallet = w;
          this.walletAddress = w?.address;
          this.entryRead = false; // another wallet: its entry is read again
          if (w) {
            onWallet(w.address);
            void this.refresh();
          }
        });
        await connector.prepare();
        this.walletReady = true;
      })
      .catch((err) => {
        this.problem = `the wallet could not load: ${describeError(err)}`;
      });
  }

  /** Call straight from the click. */
  connectWallet(): void {
    this.connector?.connect();
  }

  /** Devnet: test TON from the faucet, enough to register. */
  fund(): Promise<void> {
    const dev = this.connector as DevWallet | undefined;
    if (this.config?.network !== "devnet" || !dev) return Promise.resolve();
    return this.run(
      "Asking the faucet for test TON…",
      "Test TON",
      () => dev.fund(),
      "The faucet sent 100 test TON.",
    );
  }

  /**
   * Publishes this provider in the Registry (deploys its entry, or replaces it): identity key,
   * payout address, the model and price. The wallet is called straight from the click.
   */
  register(o: { payout: string; model: string; price: bigint }): Promise<void> {
    const config = this.config;
    const wallet = this.wallet;
    if (!config?.registry) return this.fail("no Registry is deployed on this network yet");
    if (!wallet) return this.fail("connect a wallet first: it pays for the registration and owns the entry");
    const short = this.registerShortfall();
    if (short) return this.fail(short);
    const skewMs = this.skewMs;
    if (skewMs === undefined) return this.fail(this.registerClockWait() ?? "");
    const payload = this.core.registerPayload({
      identity: this.identity,
      globalId: config.globalId,
      registry: config.registry,
      owner: wallet.address,
      nowMs: Date.now() + skewMs,
      ...o,
    });
    return this.sendAndConfirm(
      wallet,
      { address: config.registry, amount: REGISTER_VALUE, payload },
      { busy: "Registering in the Registry…", action: "Registration", what: "registration" },
      async () => (await this.readEntry())?.models.includes(o.model) === true,
      // No notice: the Registry line by Register (a live region) says it, once.
      "",
    );
  }

  /**
   * One message from the wallet, handed over synchronously (straight from the click), judged done
   * when `done` reads true on chain, never by the wallet's answer.
   */
  sendAndConfirm(
    wallet: Wallet,
    message: { address: string; amount: bigint; payload: string },
    say: { busy: string; action: string; what: string },
    done: () => Promise<boolean>,
    success: string | (() => string),
  ): Promise<void> {
    const sent = wallet.sendTransaction({ messages: [message] });
    return this.run(
      say.busy,
      say.action,
      async () => {
        await sent;
        await this.core.waitForChain(done, say.what);
      },
      success,
    );
  }

  /** Claims every stream with something claimable now, whatever the fee share (its cost is shown first). */
  claimNow(): Promise<void> {
    const settlement = this.settlement;
    if (!settlement) return this.fail("no TON network to claim on");
    let outcome = "";
    return this.run(
      "Claiming…",
      "Claim",
      async () => {
        const before = await settlement.status();
        await settlement.claimNow();
        await settlement.idle();
        const after = await settlement.status();
        const failed = after.streams.find((s) => s.pending > 0n && s.lastError);
        if (failed) throw new ClaimError(failed.lastError ?? "unknown");
        outcome = claimOutcome(before, after);
      },
      () => outcome,
    );
  }

  async refresh(): Promise<void> {
    try {
      if (this.settlement) this.status = await this.settlement.status();
      const dev = this.config?.network === "devnet" ? (this.connector as DevWallet | undefined) : undefined;
      if (dev?.ready) this.walletBalance = await dev.balance();
      if (this.wallet) {
        this.registered = await this.readEntry();
        this.entryRead = true;
      }
      if (this.wallet && this.client && this.config)
        this.stake = await this.core.readStake(this.client, this.config, this.wallet.address);
    } catch {
      // the chain is unreachable for a moment: the next refresh tries again
    }
  }

  /** Known to be missing from the Registry this network names, so requesters will refuse this provider. */
  get unregistered(): boolean {
    return this.entryRead && !!this.config?.registry && !this.registered;
  }

  /** What the signaling server is told of the entry (requesters read the entry itself on chain). */
  entryClaim(): { owner: string; stake: bigint; registeredAt: number } | undefined {
    const r = this.registered;
    return r && this.wallet
      ? { owner: this.wallet.address, stake: r.stake, registeredAt: r.registeredAt }
      : undefined;
  }

  /** @internal for `stake-flow.ts`. */
  async readEntry(): Promise<RegisteredEntry | undefined> {
    const config = this.config;
    if (!config || !this.wallet || !this.client) return undefined;
    return this.core.readEntry(this.client, config, this.wallet.address, this.identity.publicKey);
  }

  /** @internal for `stake-flow.ts`. */
  fail(message: string): Promise<void> {
    this.problem = message;
    return Promise.resolve();
  }

  /** Why Register cannot go now (the wallet's balance is known and too small), or undefined. */
  registerShortfall(): string | undefined {
    const have = this.walletBalance;
    if (have === undefined || have >= REGISTER_VALUE + 50_000_000n) return undefined;
    const fix =
      this.config?.network === "devnet" ? "Press “Get 100 test TON” first." : "Add TON to the wallet first.";
    return `registering sends ${formatTon(REGISTER_VALUE)} TON and the network fee; the wallet holds ${formatTon(have)} TON. ${fix}`;
  }

  /** Runs a chain action: busy text, then its success in words or the problem (`action` names it). */
  async run(
    busy: string,
    action: string,
    work: () => Promise<void>,
    success: string | (() => string),
  ): Promise<void> {
    this.busy = busy;
    this.problem = undefined;
    this.notice = undefined;
    this.lastAction = action;
    try {
      await work();
      await this.refresh();
      this.notice = typeof success === "string" ? success : success();
    } catch (err) {
      this.problem =
        err instanceof ClaimError
          ? `A claim did not go through (${err.message}); it is retried by itself, and unclaimed receipts stay kept here.`
          : this.core.chainErrorText(err, action);
    } finally {
      this.busy = undefined;
      await this.refresh();
    }
  }
}
