import { Address } from "@ton/core";
import type { TonConnectUI } from "@tonconnect/ui";
import { keepPickerAccessible } from "./tonconnect-picker";
import {
  CHAIN_ID,
  type Wallet,
  type WalletConnector,
  WalletFailedError,
  type WalletNetwork,
  WalletNetworkError,
  WalletNotReadyError,
  WalletRejectedError,
  type WalletTransaction,
} from "./wallet";

export interface TonConnectOptions {
  readonly network: WalletNetwork;
  /** Defaults to `${location.origin}/tonconnect-manifest.json`, which the signaling server serves. */
  readonly manifestUrl?: string;
  /** Inside a Telegram Mini App: where the wallet returns to, e.g. `https://t.me/your_bot/app`. */
  readonly twaReturnUrl?: `${string}://${string}`;
}

/**
 * TON Connect UI behind `WalletConnector`. `@tonconnect/ui` is imported only in `prepare()`, so a
 * page (or the widget) that never shows its wallet panel never downloads it.
 */
export class TonConnectWallet implements WalletConnector {
  private ui: TonConnectUI | undefined;
  private current: Wallet | undefined;
  private readonly listeners = new Set<(w: Wallet | undefined) => void>();
  private preparing: Promise<void> | undefined;
  /** Whether a failed request was the user's No in the wallet (TON Connect's error class, loaded with it). */
  private declined: (cause: unknown) => boolean = () => false;

  constructor(private readonly opts: TonConnectOptions) {}

  get network(): TonConnectOptions["network"] {
    return this.opts.network;
  }

  get ready(): boolean {
    return this.ui !== undefined;
  }

  prepare(): Promise<void> {
    this.preparing ??= this.load();
    return this.preparing;
  }

  private async load(): Promise<void> {
    const { TonConnectUI, TonConnectError, UserRejectsError } = await import("@tonconnect/ui");
    this.declined = (cause) => cause instanceof UserRejectsError;
    ignoreAbandonedBridgeConnects(TonConnectError);
    const ui = new TonConnectUI({
      manifestUrl: this.opts.manifestUrl ?? `${location.origin}/tonconnect-manifest.json`,
      ...(this.opts.twaReturnUrl && { actionsConfiguration: { twaReturnUrl: this.opts.twaReturnUrl } }),
    });
    ui.onStatusChange((w) => {
      this.current = w ? this.wrap(ui, w.account.address, w.account.chain) : undefined;
      for (const l of this.listeners) l(this.current);
    });
    keepPickerAccessible(ui);
    this.ui = ui;
    await ui.connectionRestored;
  }

  /** Call straight from a click: no await before it. */
  connect(): void {
    if (!this.ui) throw new WalletNotReadyError("the wallet code is still loading; try again in a moment");
    void this.ui.openModal();
  }

  async disconnect(): Promise<void> {
    await this.ui?.disconnect();
  }

  onChange(listener: (w: Wallet | undefined) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }

  private wrap(ui: TonConnectUI, address: string, chain: string): Wallet {
    const network = this.opts.network;
    const declined = this.declined;
    return {
      address,
      network,
      sendTransaction(tx: WalletTransaction): Promise<void> {
        if (chain !== CHAIN_ID[network]) {
          return Promise.reject(
            new WalletNetworkError(`the wallet is on another network; switch it to ${network} and reconnect`),
          );
        }
        // Straight from the click: the wallet link opens before any await.
        return ui
          .sendTransaction({
            validUntil: Math.floor(Date.now() / 1000) + (tx.validForSeconds ?? 300),
            network: CHAIN_ID[network] as never,
            messages: tx.messages.map((m) => ({
              address: friendly(m.address, network),
              amount: m.amount.toString(),
              ...(m.payload && { payload: m.payload }),
              ...(m.stateInit && { stateInit: m.stateInit }),
            })),
          })
          .then(
            () => undefined, // what the wallet returns proves nothing: callers watch the chain
            (cause: unknown) => {
              if (declined(cause)) throw new WalletRejectedError("declined in the wallet", { cause });
              const why = cause instanceof Error ? cause.message : String(cause);
              throw new WalletFailedError(`the wallet did not send it: ${why.slice(0, 200)}`, { cause });
            },
          );
      },
    };
  }
}

/**
 * TON Connect takes user-friendly addresses only: its SDK refuses a raw one before any wallet sees
 * the request. Bounceable (a message a contract refuses comes back), test-only off mainnet.
 */
function friendly(address: string, network: WalletNetwork): string {
  if (Address.isFriendly(address)) return address;
  return Address.parse(address).toString({ bounceable: true, testOnly: network !== "mainnet" });
}

/**
 * TON Connect's picker starts a connection over the HTTP bridges as it opens (its QR code, for
 * wallets on another device), retrying every 2 s until it is aborted. Choosing another way (a
 * wallet extension, say) aborts it, and when its first try had failed (a bridge not reachable, or
 * no wallet of the list on a bridge) the SDK's retry loop rejects a promise nobody holds
 * (`BridgeProvider.connect`, @tonconnect/sdk 3.4.1 and its source today; ton-connect/sdk#297):
 * "[TON_CONNECT_SDK_ERROR] Aborted after attempts 1", uncaught in the page. Nothing failed that
 * the user asked for, so that one rejection is marked handled; any other still shows.
 */
let ignoring = false;
function ignoreAbandonedBridgeConnects(sdkError: abstract new (...args: never[]) => Error): void {
  if (ignoring || typeof window === "undefined") return;
  ignoring = true;
  window.addEventListener("unhandledrejection", (e) => {
    if (e.reason instanceof sdkError && /Aborted after attempts \d+$/.test(e.reason.message))
      e.preventDefault();
  });
}
