/**
 * CLI: `npm run signaling -- --port 8787` (or `node --import tsx signaling/main.ts`). Configuration comes from
 * the environment and flags (see README.md); SIGINT/SIGTERM shut down gracefully.
 */
import { ConfigError, loadConfig } from "./config";
import { applyHeapGrowth } from "./heap-growth";
import { listenFailure } from "./listen-errors";
import { createSignalingServer } from "./server";
import { stopOnSignals } from "./stop-signals";
import { asksHelp, signalingUsage } from "./usage";

if (asksHelp(process.argv.slice(2))) {
  console.log(signalingUsage("npm run signaling --"));
  process.exit(0);
}
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`silk-signaling: ${err.message}`);
  process.exit(2);
}
applyHeapGrowth(config.heapGrowthPercent);

const server = createSignalingServer(config);
await server.start().catch((err: unknown) => {
  const said = listenFailure(err, "PORT (or --port)");
  if (!said) throw err;
  console.error(`silk-signaling: ${said}`);
  process.exit(1);
});

stopOnSignals(() => server.close());
