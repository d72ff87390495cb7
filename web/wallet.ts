/**
 * What the pages need of a wallet: an address, the network it is on, and `sendTransaction`.
 * TON Connect implements it on testnet and mainnet (and on the devnet when the server says so:
 * a wallet pointed at it); the devnet dev wallet arrives with the devnet chain. Success of a transaction is judged from the chain's state by the caller (an
 * escrow's balance, a registry entry), never from what the wallet returns.
 */
export type WalletNetwork = "mainnet" | "testnet" | "devnet";

/** TON Connect's chain ids: each network's global id (a wallet on the devnet names its -1000, NETWORK_ID.devnet). */
export const CHAIN_ID: Record<WalletNetwork, string> = {
  mainnet: "-239",
  testnet: "-3",
  devnet: "-1000",
};

export interface WalletMessage {
  /** Destination, raw or user-friendly form. */
  readonly address: string;
  readonly amount: bigint;
  /** A real cell, as base64 BOC (`cell.toBoc().toString("base64")`). */
  readonly payload?: string;
  readonly stateInit?: string;
}

export interface WalletTransaction {
  readonly messages: readonly WalletMessage[];
  /** Seconds the wallet may take. */
  readonly validForSeconds?: number;
}

export interface Wallet {
  readonly address: string;
  readonly network: WalletNetwork;
  sendTransaction(tx: WalletTransaction): Promise<void>;
}

/**
 * Connects a wallet. `prepare` loads the wallet code (lazily) and restores a previous
 * connection; after it, `connect` and `wallet.sendTransaction` must be called straight from a
 * click handler with no `await` before them, or iOS refuses to open the wallet.
 */
export interface WalletConnector {
  readonly network: WalletNetwork;
  prepare(): Promise<void>;
  readonly ready: boolean;
  connect(): void;
  disconnect(): Promise<void>;
  onChange(listener: (wallet: Wallet | undefined) => void): () => void;
}

export class WalletNotReadyError extends Error {
  override readonly name = "WalletNotReadyError";
}

export class WalletNetworkError extends Error {
  override readonly name = "WalletNetworkError";
}

/** The user said no in the wallet. */
export class WalletRejectedError extends Error {
  override readonly name = "WalletRejectedError";
}

/** The wallet (or TON Connect before it) refused or failed the request: not the user's No. */
export class WalletFailedError extends Error {
  override readonly name = "WalletFailedError";
}
