/**
 * `npm start`: Silk in one process: the signaling server (with the built pages when `dist/`
 * exists, or STATIC_DIR) and, unless TON_ENDPOINT points at a real network, the devnet chain with
 * the contracts deployed and a faucet, also served on the pages' origin under /ton. The pages
 * learn the chain from `GET /api/config`. Configuration: the signaling server's (PORT, HOST,
 * REDIS_URL, ICE_SERVERS, …; see signaling/README.md) plus DEVNET_PORT, DEVNET_HOST, DEVNET_DIR,
 * TON_ENDPOINT with TON_NETWORK, and ESCROW_CLOSE_DELAY. Ctrl-C stops everything cleanly.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { DeploymentRecordError } from "./contracts/deployment-record";
import { startDevnet } from "./contracts/devnet";
import { DEVNET_MOUNT, devnetPageConfig, networkPageConfig } from "./contracts/page-config";
import { registryEntryCheck, tonRegistryReader } from "./contracts/wrappers/registry-reader";
import { ConfigError, loadConfig } from "./signaling/config";
import { applyHeapGrowth } from "./signaling/heap-growth";
import { listenFailure } from "./signaling/listen-errors";
import { createSignalingServer } from "./signaling/server";
import { stopOnSignals } from "./signaling/stop-signals";
import { asksHelp, signalingUsage } from "./signaling/usage";
import { MAX_CLOSE_DELAY_S } from "./web/chain-config";

const env = process.env;
if (asksHelp(process.argv.slice(2))) {
  console.log(
    signalingUsage(
      "npm start --",
      [
        "The local TON devnet, environment only: DEVNET_PORT (8081), DEVNET_HOST (127.0.0.1), DEVNET_DIR",
        "(.silk/devnet), DEVNET_WALLET (dev or tonconnect); a real network instead: TON_ENDPOINT with",
        "TON_NETWORK=testnet|mainnet; ESCROW_CLOSE_DELAY (seconds: 60 on the devnet, a day elsewhere).",
      ].join("\n"),
    ),
  );
  process.exit(0);
}
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(env, process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`silk: ${err.message}`);
  process.exit(2);
}
applyHeapGrowth(config.heapGrowthPercent);
const dist = resolve("dist");
if (!config.staticDir && existsSync(dist)) config = { ...config, staticDir: dist };

function fail(message: string): never {
  console.error(`silk: ${message}`);
  process.exit(2);
}
/** A port taken or forbidden: one line saying which and what moves it (exit 1), not a stack trace. */
function cannotListen(err: unknown, setting: string): never {
  const said = listenFailure(err, setting);
  if (!said) throw err;
  console.error(`silk: ${said}`);
  process.exit(1);
}
const network = env.TON_ENDPOINT ? (env.TON_NETWORK ?? "testnet") : "devnet";
if (network !== "devnet" && network !== "testnet" && network !== "mainnet")
  fail("TON_NETWORK must be testnet or mainnet");
// Escrows are made for one close delay (it is part of their address): a short one on the devnet.
const closeDelay = Number(env.ESCROW_CLOSE_DELAY ?? (network === "devnet" ? 60 : 86_400));
// The pages, the gateway and the SDK refuse a delay beyond a week (`checkCloseDelay`): say so here.
if (!Number.isInteger(closeDelay) || closeDelay < 1 || closeDelay > MAX_CLOSE_DELAY_S)
  fail(`ESCROW_CLOSE_DELAY is a whole number of seconds from 1 to ${MAX_CLOSE_DELAY_S} (a week)`);
// The devnet's client pages pay from a dev wallet of their own unless a TON Connect wallet is pointed at it.
const devnetWallet = env.DEVNET_WALLET ?? "dev";
if (devnetWallet !== "dev" && devnetWallet !== "tonconnect") fail("DEVNET_WALLET must be dev or tonconnect");

const devnetPort = Number(env.DEVNET_PORT ?? 8081);
if (!Number.isInteger(devnetPort) || devnetPort < 0 || devnetPort > 65_535)
  fail("DEVNET_PORT must be a whole number from 0 to 65535");
const devnet =
  network === "devnet"
    ? await startDevnet({
        port: devnetPort,
        host: env.DEVNET_HOST ?? "127.0.0.1",
        dataDir: env.DEVNET_DIR ?? ".silk/devnet",
      }).catch((err: unknown) => cannotListen(err, "DEVNET_PORT"))
    : undefined;
const pageConfig = devnet
  ? devnetPageConfig(devnet.chain, closeDelay, devnetWallet === "tonconnect" ? "tonconnect" : undefined)
  : await networkPageConfig(network as "testnet" | "mainnet", env.TON_ENDPOINT!, closeDelay).catch(
      (err: unknown) => (err instanceof DeploymentRecordError ? fail(err.message) : Promise.reject(err)),
    );
// The server filters providers on the stake and age their Registry entries show, read (and
// cached a minute) from the chain rather than taken on their word; requesters check again themselves.
const entryCheck = pageConfig.registry
  ? registryEntryCheck(
      tonRegistryReader(
        new TonClient({ endpoint: devnet?.endpoint ?? env.TON_ENDPOINT! }),
        Address.parse(pageConfig.registry),
        { ttlMs: 60_000 },
      ),
    )
  : undefined;
const signaling = createSignalingServer({
  ...config,
  pageConfig,
  ...(entryCheck && { entryCheck }),
  mounts: devnet ? [{ prefix: DEVNET_MOUNT, handle: devnet.handle }] : [],
});
const { url } = await signaling.start().catch(async (err: unknown) => {
  await devnet?.close();
  return cannotListen(err, "PORT");
});
// Before "Ctrl-C to stop." is printed, so a Ctrl-C as soon as it shows finds the stop in place.
stopOnSignals(() => Promise.all([signaling.close(), devnet?.close()]));

console.log(`\nSilk is running.`);
if (config.staticDir) {
  console.log(`  web client        ${url}/`);
  console.log(`  provider page     ${url}/provider`);
  console.log(`  widget demo       ${url}/widget/`);
} else {
  console.log("  (no built pages in dist/: run `npm run build` to serve them)");
}
console.log(`  signaling         ${url}  (health ${url}/healthz, metrics ${url}/metrics)`);
console.log(
  devnet
    ? `  TON devnet        ${devnet.endpoint}, also ${url}${DEVNET_MOUNT}/jsonRPC  (faucet: POST ${url}${DEVNET_MOUNT}/faucet)`
    : `  TON ${network.padEnd(13)} ${env.TON_ENDPOINT}`,
);
console.log(`  escrow close delay ${closeDelay} s\nCtrl-C to stop.\n`);
