export { ChainRefusedError, DEVNET_GLOBAL_ID, DevnetChain, MAX_FAUCET_NANO } from "./chain";
export { type Devnet, type DevnetOptions, devnetHandler, startDevnet } from "./server";
