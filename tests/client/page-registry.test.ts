import { TonClient } from "@ton/ton";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkProvider } from "../../client/sdk/provider-trust";
import { registryReaderFor } from "../../client/web/registry-check";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { UnregisteredProviderError } from "../../protocol/errors";
import { encodePublicKey, generateKeyPair } from "../../protocol/identity";
import { NO_POLICY } from "../../protocol/trust-policy";
import { fetchChainConfig } from "../../web/chain-config";
import { cleanup } from "../signaling/helpers";
import { type RegisteredProvider, registerOnDevnet } from "../support/devnet-registry";
import { lyingConfigServer } from "../support/lying-config";

/**
 * A signaling server whose `/api/config` names no Registry (a real server on loopback, its devnet
 * mounted as `npm start` does). The client page and the widget check each provider the server
 * names in the Registry through `registryReaderFor`; it used to return nothing for such a config,
 * which turned the check off: the page then talked to whatever provider the server named. Now it
 * reads this code's Registry all the same: a provider with no entry there is refused by name, a
 * registered one passes.
 */
let devnet: Devnet;
let registered: RegisteredProvider;

beforeAll(async () => {
  devnet = await startDevnet({});
  registered = await registerOnDevnet(devnet, new TonClient({ endpoint: devnet.endpoint }), {
    models: ["test-model"],
  });
}, 120_000);

afterAll(async () => {
  await cleanup();
  await devnet?.close();
});

async function silentConfig() {
  const url = await lyingConfigServer(devnet, { registry: undefined });
  const config = await fetchChainConfig(url);
  if (!config) throw new Error("the server named no chain");
  expect(config.registry).toBeUndefined();
  return { url, config };
}

describe("a server config naming no Registry", () => {
  it("the pages still check providers: one with no Registry entry is refused", async () => {
    const { url, config } = await silentConfig();
    const reader = registryReaderFor(config, url);
    const stranger = {
      identityKey: encodePublicKey(generateKeyPair().publicKey),
      payout: registered.payout.toString(),
      owner: `0:${"cd".repeat(32)}`,
    };
    const err = await checkProvider(stranger, reader, NO_POLICY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnregisteredProviderError);
  }, 60_000);

  it("a provider registered in this code's Registry passes", async () => {
    const { url, config } = await silentConfig();
    const standing = await checkProvider(
      {
        identityKey: encodePublicKey(registered.identity.publicKey),
        payout: registered.payout.toString(),
        owner: registered.owner.toString(),
      },
      registryReaderFor(config, url),
      NO_POLICY,
    );
    expect(standing.identityKey).toBe(encodePublicKey(registered.identity.publicKey));
  }, 60_000);
});
