/**
 * `npm start`: Silk in one process: the signaling server (with the built pages when `dist/`
 * exists) and, unless TON_ENDPOINT points at a real network, the devnet chain with the contracts
 * deployed and a faucet. Configuration: the signaling server's (PORT, HOST, REDIS_URL,
 * ICE_SERVERS, …; see signaling/README.md) plus DEVNET_PORT, DEVNET_DIR and TON_ENDPOINT.
 * Ctrl-C stops everything cleanly.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { startDevnet } from "./contracts/devnet";
import { ConfigError, loadConfig } from "./signaling/config";
import { createSignalingServer } from "./signaling/server";

const env = process.env;
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(env, process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`silk: ${err.message}`);
  process.exit(2);
}
const dist = resolve("dist");
if (!config.staticDir && existsSync(dist)) config = { ...config, staticDir: dist };

const devnet = env.TON_ENDPOINT
  ? undefined
  : await startDevnet({
      port: Number(env.DEVNET_PORT ?? 8081),
      host: env.DEVNET_HOST ?? "127.0.0.1",
      dataDir: env.DEVNET_DIR ?? ".silk/devnet",
    });
const signaling = createSignalingServer(config);
const { url } = await signaling.start();

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
    ? `  TON devnet        ${devnet.endpoint}  (faucet: POST ${devnet.url}/faucet)`
    : `  TON endpoint      ${env.TON_ENDPOINT}`,
);
console.log("Ctrl-C to stop.\n");

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void Promise.all([signaling.close(), devnet?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
