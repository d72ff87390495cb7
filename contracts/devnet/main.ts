/**
 * `npm run devnet`: the local chain on DEVNET_PORT (default 8081), saved in DEVNET_DIR (default
 * .silk/devnet). Stops cleanly on SIGINT/SIGTERM.
 */
import { startDevnet } from "./server";

const USAGE = `Usage: npm run devnet

The local TON chain with the contracts deployed and a faucet. Environment only:
  DEVNET_PORT  (default 8081)
  DEVNET_HOST  (default 127.0.0.1)
  DEVNET_DIR   where its state is kept (default .silk/devnet)`;
const args = process.argv.slice(2);
if (args.length > 0) {
  const help = args.includes("--help") || args.includes("-h");
  (help ? console.log : console.error)(
    help ? USAGE : `devnet: it takes no arguments (${args[0]})\n\n${USAGE}`,
  );
  process.exit(help ? 0 : 2);
}

const port = Number(process.env.DEVNET_PORT ?? 8081);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error("devnet: DEVNET_PORT must be a whole number from 0 to 65535");
  process.exit(2);
}
const devnet = await startDevnet({
  port,
  host: process.env.DEVNET_HOST ?? "127.0.0.1",
  dataDir: process.env.DEVNET_DIR ?? ".silk/devnet",
}).catch((err: unknown) => {
  // A port taken (`npm start` runs a devnet too) says so in a line, not a stack trace.
  if ((err as { code?: unknown })?.code !== "EADDRINUSE") throw err;
  console.error(
    `devnet: port ${(err as { port?: unknown }).port} is in use (is Silk already running?): set DEVNET_PORT`,
  );
  process.exit(1);
});
const res = await fetch(`${devnet.url}/devnet`);
const { result } = (await res.json()) as { result: { registry: string } };
console.log(`devnet: TonClient endpoint ${devnet.endpoint}`);
console.log(`devnet: faucet POST ${devnet.url}/faucet {"address": "...", "amount": "nanoTON"}`);
console.log(`devnet: registry ${result.registry}`);

// Once: npm forwards the terminal's Ctrl-C to the devnet, which has it already.
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await devnet.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
