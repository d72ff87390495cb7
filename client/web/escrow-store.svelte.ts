import { Address } from "@ton/core";
import { EscrowParams } from "../../contracts/generated/constants";
import type { KeyPair } from "../../protocol";
import { formatTon } from "../../protocol/ton-amount";
import { type ChainConfig, fetchChainConfig, waitForChain } from "../../web/chain-config";
import { chainErrorText } from "../../web/chain-errors";
import { ChainChangedError, type ChainPin, chainPinKey, pinnedChain } from "../../web/chain-pin";
import { type ChainChoice, chosenChain } from "../../web/chosen-chain";
import type { DevWallet } from "../../web/dev-wallet";
import { KvEntry, type SilkDb } from "../../web/page-db";
import type { Wallet, WalletConnector, WalletTransaction } from "../../web/wallet";
import type { ReserveChain } from "../sdk/reserve-keeper";
import { AmountError, EscrowAccount, EscrowNotReadyError, OWNER_OP_VALUE, parseTonAmount } from "./escrow";
import type { EscrowChain, EscrowFacts } from "./escrow-chain";

export { EscrowNotReadyError };

/** Kept free in the wallet beside a deposit: the network fee of one message, generously. */
const NETWORK_FEE = OWNER_OP_VALUE;

/** What the SDK needs to sign receipts on this escrow, and where it raises their streams' reserves. */
export interface EscrowTerms {
  readonly escrow: string;
  readonly keyEpoch: number;
  readonly network: number;
  readonly reserves: ReserveChain;
}

/**
 * The requester's money, for the web client and the widget: the chain the server names, the wallet
 * (the devnet's dev wallet, or TON Connect), the escrow it owns, and deposit, top-up, close and
 * withdraw. Each transaction is built and handed to the wallet synchronously from the click, then
 * judged by polling the escrow, never by the wallet's answer.
 */
export class EscrowStore {
  config = $state<ChainConfig | undefined>();
  /** Set when the server names no chain or it cannot be read. */
  unavailable = $state<string | undefined>();
  /** Set when the server names another network or endpoint than this browser used with it. */
  chainChanged = $state<ChainChangedError | undefined>();
  walletReady = $state(false);
  walletAddress = $state<string | undefined>();
  walletBalance = $state<bigint | undefined>();
  escrowAddress = $state<string | undefined>();
  facts = $state<EscrowFacts | undefined>();
  busy = $state<string | undefined>();
  problem = $state<string | undefined>();
  notice = $state<string | undefined>();

  readonly network = $derived(this.config?.network);
  /** The wallet is the devnet's dev wallet (made in this browser, funded by the faucet), not TON Connect. */
  readonly devWallet = $derived(this.config?.network === "devnet" && this.config.wallet !== "tonconnect");
  readonly closing = $derived((this.facts?.unlockAt ?? 0) !== 0);
  /** This device's clock in seconds, ticking while the escrow is closing. */
  now = $state(Math.floor(Date.now() / 1000));
  /** The close delay is over (by this device's clock; the escrow has the last word). */
  readonly unlocked = $derived(this.closing && this.now >= (this.facts?.unlockAt ?? 0));
  /** Closing and holding no more than its storage reserve: a Withdraw would only pay fees. */
  readonly emptied = $derived(this.closing && (this.facts?.balance ?? 0n) <= EscrowParams.STORAGE_RESERVE);
  readonly withdrawable = $derived(this.unlocked && !this.emptied);
  /** Seconds until Withdraw opens. */
  readonly unlockIn = $derived(Math.max(0, (this.facts?.unlockAt ?? 0) - this.now));

  private chain: EscrowChain | undefined;
  private connector: WalletConnector | undefined;
  private wallet: Wallet | undefined;
  private account: EscrowAccount | undefined;
  private sessionKey!: KeyPair;
  private owner!: KvEntry<string>;
  private db!: SilkDb;
  private serverUrl!: string;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly opts: {
      twaReturnUrl?: `${string}://${string}`;
      /**
       * The chain the embedding page chose (the widget's `network` and `ton-endpoint`): the
       * server's is refused on another network, and read through that endpoint, as `gateway init`
       * does (`chosenChain`). Without it, the chain this browser first used with the server
       * (`pinnedChain`).
       */
      chain?: ChainChoice;
    } = {},
  ) {}

  async init(serverUrl: string, db: SilkDb, sessionKey: KeyPair): Promise<void> {
    this.db = db;
    this.sessionKey = sessionKey;
    this.serverUrl = serverUrl;
    this.owner = new KvEntry(db, "client.escrow-owner");
    try {
      const config = await fetchChainConfig(serverUrl);
      if (!config) {
        this.unavailable = "This Silk server names no TON network, so no escrow can pay for answers here.";
        return;
      }
      const { EscrowChain } = await import("./escrow-chain");
      const chosen = this.opts.chain
        ? chosenChain(config, serverUrl, this.opts.chain)
        : await pinnedChain(config, serverUrl, this.chainPin());
      this.chain = new EscrowChain(chosen);
      this.config = chosen;
    } catch (err) {
      if (err instanceof ChainChangedError) this.chainChanged = err;
      this.unavailable = err instanceof Error ? err.message : "the TON network could not be read";
      return;
    }
    const saved = await this.owner.get();
    if (saved) this.useOwner(saved);
    if (this.devWallet) await this.prepareWallet();
    await this.refresh();
    this.ticker = setInterval(() => {
      if (this.closing) this.now = Math.floor(Date.now() / 1000);
    }, 1_000);
  }

  private chainPin(): KvEntry<ChainPin> {
    return new KvEntry(this.db, chainPinKey(this.serverUrl));
  }

  /** The user accepts the chain the server now names (`chainChanged`): pinned, and read again. */
  async acceptChainChange(): Promise<void> {
    const changed = this.chainChanged;
    if (!changed) return;
    await this.chainPin().set(changed.named);
    this.chainChanged = undefined;
    this.unavailable = undefined;
    await this.init(this.serverUrl, this.db, this.sessionKey);
  }

  dispose(): void {
    clearInterval(this.ticker);
  }

  /** Loads the wallet (the dev wallet, or TON Connect's code) when first needed. */
  async prepareWallet(): Promise<void> {
    if (!this.config || !this.chain || this.connector) return;
    try {
      const connector = this.devWallet
        ? this.chain.devWallet(new KvEntry(this.db, "devnet.wallet-seed"))
        : new (await import("../../web/tonconnect-wallet")).TonConnectWallet({
            network: this.config.network,
            ...(this.opts.twaReturnUrl && { twaReturnUrl: this.opts.twaReturnUrl }),
          });
      this.connector = connector;
      connector.onChange((w) => {
        this.wallet = w;
        this.walletAddress = w?.address;
        if (w) {
          this.useOwner(w.address);
          void this.owner.set(w.address);
          void this.refresh();
        }
      });
      await connector.prepare();
      this.walletReady = true;
    } catch {
      this.problem = "The wallet could not load. Check the connection and open Wallet again.";
    }
  }

  /** Call straight from the click: no await before it. */
  connectWallet(): void {
    this.connector?.connect();
  }

  /** Devnet: test TON from the faucet into the dev wallet. */
  async fund(): Promise<void> {
    const dev = this.connector as DevWallet | undefined;
    if (!this.devWallet || !dev) return;
    await this.run(
      "Asking the faucet for test TON…",
      "Test TON",
      () => dev.fund(),
      "The faucet sent 100 test TON.",
    );
  }

  /** The first deposit deploys the escrow and authorises this browser's session key; later ones top up. */
  deposit(amountText: string): Promise<void> {
    let amount: bigint;
    try {
      amount = parseTonAmount(amountText);
    } catch (err) {
      this.problem = err instanceof AmountError ? `Deposit: ${err.message}.` : "Deposit: invalid amount.";
      return Promise.resolve();
    }
    const account = this.account;
    if (!account) return this.needWallet();
    const short = this.shortOf(amount);
    if (short) {
      this.problem = `Deposit: ${short}`;
      return Promise.resolve();
    }
    const authorised = this.facts?.keyEpoch !== undefined;
    const before = this.facts?.balance ?? 0n;
    // A closing (or withdrawn) escrow is reopened by the same message that deposits.
    if (this.closing) {
      return this.send(
        account.reopenTx(amount),
        "Reopening the escrow and depositing…",
        "Deposit",
        async (f) => f.unlockAt === 0 && f.balance > before,
        `Reopened: ${formatTon(amount)} TON deposited. You can ask again.`,
      );
    }
    const tx = authorised ? account.topUpTx(amount) : account.depositTx(this.sessionKey.publicKey, amount);
    return this.send(
      tx,
      authorised ? "Topping up…" : "Depositing and authorising this browser…",
      "Deposit",
      async (f) => f.keyEpoch !== undefined && f.balance > before,
      `Deposited ${formatTon(amount)} TON.`,
    );
  }

  /**
   * Why the wallet cannot send `amount` (plus the network fee), when its balance is known (the
   * dev wallet's is; TON Connect's is the wallet's to check).
   */
  shortOf(amount: bigint): string | undefined {
    const have = this.walletBalance;
    if (have === undefined || have >= amount + NETWORK_FEE) return undefined;
    const fix = this.devWallet ? "Press “Get 100 test TON” first." : "Add TON to the wallet first.";
    return `the wallet holds ${formatTon(have)} TON, less than ${formatTon(amount)} TON and the network fee. ${fix}`;
  }

  close(): Promise<void> {
    if (!this.account) return this.needWallet();
    return this.send(
      this.account.closeTx(),
      "Closing the escrow…",
      "Close",
      async (f) => f.unlockAt !== 0,
      "Closing started: withdraw the rest when the countdown ends, or deposit again to reopen.",
    );
  }

  withdraw(): Promise<void> {
    if (!this.account) return this.needWallet();
    if (this.emptied) {
      this.problem = "Nothing left to withdraw: the escrow keeps only its storage reserve.";
      return Promise.resolve();
    }
    const amount = (this.facts?.balance ?? 0n) - EscrowParams.STORAGE_RESERVE;
    return this.send(
      this.account.withdrawTx(),
      "Withdrawing…",
      "Withdraw",
      async (f) => f.balance <= EscrowParams.STORAGE_RESERVE,
      `Withdrawn: about ${formatTon(amount)} TON is back in your wallet (less the network fee).`,
    );
  }

  /** What receipts are bound to, or why the chat cannot ask yet. */
  terms(): EscrowTerms {
    if (this.unavailable) throw new EscrowNotReadyError(this.unavailable);
    if (!this.config || !this.account) {
      throw new EscrowNotReadyError(
        "Connect a TON wallet in Wallet, then deposit to your escrow to start asking.",
      );
    }
    const f = this.facts;
    if (f?.keyEpoch === undefined) {
      throw new EscrowNotReadyError(
        "Your escrow has not authorised this browser yet: deposit in Wallet (your first deposit creates the escrow and authorises this browser in one step).",
      );
    }
    if (f.unlockAt !== 0)
      throw new EscrowNotReadyError(
        "Your escrow is closing, so providers no longer serve it: deposit again in Wallet to reopen it.",
      );
    return {
      escrow: this.account.address,
      keyEpoch: f.keyEpoch,
      network: this.config.globalId,
      reserves: this.chain!.reserves,
    };
  }

  async refresh(): Promise<void> {
    if (!this.chain || !this.account) return;
    try {
      this.facts = await this.chain.read(this.account, this.sessionKey.publicKey);
      const dev = this.devWallet ? (this.connector as DevWallet | undefined) : undefined;
      if (dev) this.walletBalance = await dev.balance();
    } catch {
      this.notice = "The escrow could not be read just now; retrying with the next action.";
    }
  }

  private useOwner(address: string): void {
    if (!this.config) return;
    this.account = new EscrowAccount(this.config, Address.parse(address));
    this.escrowAddress = this.account.address;
  }

  private needWallet(): Promise<void> {
    this.problem = "Connect a TON wallet first.";
    return Promise.resolve();
  }

  /** Hands the transaction to the wallet at once (no await before), then waits for the escrow to show it. */
  private send(
    tx: WalletTransaction,
    busy: string,
    action: string,
    done: (f: EscrowFacts) => Promise<boolean>,
    success: string,
  ): Promise<void> {
    const wallet = this.wallet;
    if (!wallet) return this.needWallet();
    const sent = wallet.sendTransaction(tx);
    return this.run(
      busy,
      action,
      async () => {
        await sent;
        const account = this.account!;
        await waitForChain(
          async () => done(await this.chain!.read(account, this.sessionKey.publicKey)),
          action,
        );
      },
      success,
    );
  }

  private async run(busy: string, action: string, work: () => Promise<void>, success: string): Promise<void> {
    this.busy = busy;
    this.problem = undefined;
    this.notice = undefined;
    try {
      await work();
      // The numbers first, then the sentence: what it says is already on screen when it appears.
      await this.refresh();
      this.notice = success;
    } catch (err) {
      this.problem = chainErrorText(err, action);
    } finally {
      this.busy = undefined;
      await this.refresh();
    }
  }
}
