// `npm run gateway -- init`, then `npm run gateway -- --max-price N`: an OpenAI-compatible endpoint on the network.
import { parseArgs } from "node:util";
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { pino } from "pino";
import { checkRegistryCode } from "../../contracts/named-code";
import { type RegistryReader, tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { exitOnHelp, optionMessage } from "../../peer/cli-help";
import { loadOrCreateKey } from "../../peer/key-file";
import { NETWORK_ID, type NetworkName, parseTon } from "../../protocol";
import { type ReserveChain, tonReserveChain } from "../sdk/reserve-keeper";
import { connectGateway } from "./gateway-client";
import { initGateway } from "./gateway-init";
import { startGateway } from "./gateway-server";
import { readGatewayState } from "./gateway-state";
import { GATEWAY_USAGE, parseGatewayOptions } from "./options";
import { devnetRegistry } from "./trust-options";

const STATE_FILE = process.env.SILK_GATEWAY_STATE ?? ".silk/gateway.json";

async function init(argv: string[]): Promise<void> {
  const { values } = usageError(() =>
    parseArgs({
      args: argv,
      options: {
        signaling: { type: "string" },
        "key-file": { type: "string" },
        owner: { type: "string" },
        deposit: { type: "string" },
        network: { type: "string" },
        "ton-endpoint": { type: "string" },
        "server-key": { type: "string" },
      },
      strict: true,
    }),
  );
  const deposit = usageError(() => {
    const ton = parseTon(values.deposit ?? "5");
    if (ton === undefined) throw new Error("--deposit is a number of TON, like 5 or 0.5");
    return ton;
  });
  const network = values.network ?? process.env.SILK_NETWORK ?? "devnet";
  usageError(() => {
    if (!(network in NETWORK_ID)) throw new Error("--network must be devnet, testnet or mainnet");
  });
  const tonEndpoint = values["ton-endpoint"] ?? process.env.SILK_TON_ENDPOINT;
  // The flag only: SILK_SERVER_KEY may hold the run's URL=KEY pairs.
  const serverKey = values["server-key"];
  usageError(() => {
    if (serverKey !== undefined && !/^[0-9a-f]{64}$/.test(serverKey))
      throw new Error("--server-key is the server's key: 64 hex characters (its GET /api/server-key)");
  });
  await initGateway({
    signalingUrl: values.signaling ?? process.env.SILK_SIGNALING_URL ?? "http://127.0.0.1:8787",
    network: network as NetworkName,
    ...(tonEndpoint && { tonEndpoint }),
    ...(serverKey && { serverKey }),
    keyFile: values["key-file"] ?? process.env.SILK_KEY_FILE ?? ".silk/gateway.key",
    stateFile: STATE_FILE,
    walletFile: ".silk/gateway-wallet.seed",
    ...(values.owner ? { owner: values.owner } : {}),
    deposit,
    say: (line) => console.log(line),
  });
}

/** A command line that cannot be read: what is wrong, then the usage, exit status 2 (as the gateway's own). */
function usageError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    console.error(`${optionMessage(err)}\n\n${GATEWAY_USAGE}`);
    process.exit(2);
  }
}

/** How long a stopping gateway lets answers in flight finish. */
const DRAIN_MS = 10_000;

async function main(): Promise<void> {
  exitOnHelp(process.argv.slice(2), GATEWAY_USAGE);
  if (process.argv[2] === "init") return init(process.argv.slice(3));
  let config: ReturnType<typeof parseGatewayOptions>;
  try {
    config = parseGatewayOptions(process.argv.slice(2), process.env, readGatewayState(STATE_FILE));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${GATEWAY_USAGE}`);
    process.exit(2);
  }
  const { key } = loadOrCreateKey(config.keyFile);
  const { trust } = config;
  let registry: RegistryReader | undefined;
  let reserveChain: ReserveChain | undefined;
  if (trust.tonEndpoint) {
    const ton = new TonClient({
      endpoint: trust.tonEndpoint,
      ...(trust.tonApiKey && { apiKey: trust.tonApiKey }),
    });
    const address = Address.parse(trust.registry ?? (await devnetRegistry(trust.tonEndpoint)));
    // Only a Registry of the code compiled here is read: its address commits to that code.
    try {
      checkRegistryCode(address, "the Registry");
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    }
    registry = tonRegistryReader(ton, address);
    reserveChain = tonReserveChain(ton);
  } else
    console.warn(
      "--trust-server: providers are not checked against the Registry, and no reserves are raised (no chain)",
    );
  const log = pino({ base: { service: "silk-gateway" } });
  const { client, auditor } = await connectGateway(config, key, {
    wrtc,
    log,
    ...(registry && { registry }),
    ...(reserveChain && { reserveChain }),
  });
  if (auditor) console.log(`audits on: ${auditor.rate * 100}% of requests bring a challenge along`);
  const gateway = await startGateway({
    client,
    port: config.port,
    host: config.host,
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    log,
  });
  // Answers in flight get DRAIN_MS to finish; any left then end with 503 shutting_down.
  const stop = async () => {
    await gateway.close({ graceMs: DRAIN_MS });
    await auditor?.idle();
    client.close();
    process.exit(0);
  };
  // `on`, not `once`: npm forwards the terminal's Ctrl-C to the gateway, which has it already, and
  // a repeat would otherwise kill it mid-drain.
  let stopping = false;
  const once = () => {
    if (!stopping) void stop();
    stopping = true;
  };
  process.on("SIGINT", once);
  process.on("SIGTERM", once);
  console.log(`Silk gateway on ${gateway.url} (OpenAI-compatible); Ctrl-C to stop`);
}

main().catch((err: unknown) => {
  const { code, port } = err as { code?: unknown; port?: unknown };
  if (code === "EADDRINUSE") {
    console.error(`gateway failed: port ${port} is in use (is a gateway already running?): set --port`);
    process.exit(1);
  }
  console.error(`gateway failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
