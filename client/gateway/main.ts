// `npm run gateway -- --escrow ADDRESS --max-price N`: an OpenAI-compatible endpoint on the network.
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { pino } from "pino";
import { type RegistryReader, tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { loadOrCreateKey } from "../../peer/key-file";
import { NETWORK_ID } from "../../protocol";
import { connect } from "../sdk/silk-client";
import { startGateway } from "./gateway-server";
import { GATEWAY_USAGE, parseGatewayOptions } from "./options";
import { devnetRegistry } from "./trust-options";

async function main(): Promise<void> {
  let config: ReturnType<typeof parseGatewayOptions>;
  try {
    config = parseGatewayOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${GATEWAY_USAGE}`);
    process.exit(2);
  }
  const { key } = loadOrCreateKey(config.keyFile);
  const { trust } = config;
  let registry: RegistryReader | undefined;
  if (trust.tonEndpoint) {
    const ton = new TonClient({
      endpoint: trust.tonEndpoint,
      ...(trust.tonApiKey && { apiKey: trust.tonApiKey }),
    });
    const address = trust.registry ?? (await devnetRegistry(trust.tonEndpoint));
    registry = tonRegistryReader(ton, Address.parse(address));
  } else console.warn("--trust-server: providers are not checked against the Registry");
  const client = await connect({
    signalingUrl: config.signalingUrl,
    sessionKey: key,
    maxPrice: config.maxPrice,
    escrow: config.escrow,
    keyEpoch: config.keyEpoch,
    network: NETWORK_ID[config.network],
    wrtc,
    ...(registry && { trust: { registry, policy: trust.policy } }),
  });
  const gateway = await startGateway({
    client,
    port: config.port,
    host: config.host,
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    log: pino({ base: { service: "silk-gateway" } }),
  });
  console.log(`Silk gateway on ${gateway.url} (OpenAI-compatible); Ctrl-C to stop`);
  const stop = async () => {
    await gateway.close();
    client.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`gateway failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
