/// <reference types="vite/client" />

declare module "*.svelte" {
  import type { Component } from "svelte";

  const component: Component<Record<string, unknown>>;
  export default component;
}

interface ImportMetaEnv {
  /** Which TON network the pages use: devnet (default), testnet or mainnet. */
  readonly VITE_SILK_NETWORK?: string;
}
