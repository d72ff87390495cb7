import type { WalletNetwork } from "./wallet";

/** The TON network the pages were built for (`VITE_SILK_NETWORK`), devnet unless told. */
export function pageNetwork(): WalletNetwork {
  const n = import.meta.env.VITE_SILK_NETWORK;
  return n === "mainnet" || n === "testnet" ? n : "devnet";
}
