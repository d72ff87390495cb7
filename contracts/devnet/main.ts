/**
 * `npm run devnet`: the local chain on DEVNET_PORT (default 8081), saved in DEVNET_DIR (default
 * .silk/devnet). Stops cleanly on SIGINT/SIGTERM.
 */
import { startDevnet } from "./server";

const devnet = await startDevnet({
  port: Number(process.env.DEVNET_PORT ?? 8081),
  host: process.env.DEVNET_HOST ?? "127.0.0.1",
  dataDir: process.env.DEVNET_DIR ?? ".silk/devnet",
});
const res = await fetch(`${devnet.url}/devnet`);
const { result } = (await res.json()) as { result: { registry: string } };
console.log(`devnet: TonClient endpoint ${devnet.endpoint}`);
console.log(`devnet: faucet POST ${devnet.url}/faucet {"address": "...", "amount": "nanoTON"}`);
console.log(`devnet: registry ${result.registry}`);

const stop = async () => {
  await devnet.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
