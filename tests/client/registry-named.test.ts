import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { afterEach, describe, expect, it } from "vitest";
import { initGateway } from "../../client/gateway/gateway-init";
import { compiled } from "../../contracts/compile";
import { RegistryCodeError, THIS_CODES_REGISTRY } from "../../contracts/named-code";
import { tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { fetchChainConfig } from "../../web/chain-config";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * A program that learns the chain from a server's `/api/config` (as `gateway init` does, and as an
 * SDK app may) is told the Registry by that server. `fetchChainConfig` refuses a config naming one
 * that is not this code's Registry (`RegistryCodeError`, naming both addresses), and so does the
 * Registry reader the SDK's `trust` uses, at once, with no compile and no chain read; `gateway
 * init` refuses it before any wallet is asked for money. They used to read it as given. A real signaling server on loopback serving the config.
 */
afterEach(cleanup);

const OTHER = `0:${"ab".repeat(32)}`;

async function serverNaming(registry: string): Promise<string> {
  const escrowCode = (await compiled("escrow")).code.toBoc().toString("base64");
  const { url } = await startServer({
    pageConfig: {
      v: 1,
      network: "devnet",
      globalId: -1000,
      tonEndpoint: "/ton/jsonRPC",
      registry,
      escrowCode,
      closeDelay: 60,
    },
  });
  return url;
}

describe("a Registry named by the server's config", () => {
  it("of other code: the config is refused as it is read, and the SDK's Registry reader refuses it too, naming both addresses", async () => {
    const err = await fetchChainConfig(await serverNaming(OTHER)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryCodeError);
    expect((err as Error).message).toContain(THIS_CODES_REGISTRY.toString());
    expect((err as Error).message).toContain(Address.parse(OTHER).toString());
    const read = () =>
      tonRegistryReader(new TonClient({ endpoint: "http://127.0.0.1:9" }), Address.parse(OTHER));
    expect(read).toThrow(RegistryCodeError);
    expect(read).toThrow(THIS_CODES_REGISTRY.toString());
    expect(read).toThrow(Address.parse(OTHER).toString());
  });

  it("of other code: gateway init refuses it before any wallet is funded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silk-init-"));
    const said: string[] = [];
    const err = await initGateway({
      signalingUrl: await serverNaming(OTHER),
      keyFile: join(dir, "gateway.key"),
      stateFile: join(dir, "gateway.json"),
      walletFile: join(dir, "wallet.seed"),
      deposit: 1n,
      timeoutMs: 2_000,
      say: (line) => said.push(line),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryCodeError);
    expect((err as RegistryCodeError).expected).toBe(THIS_CODES_REGISTRY.toString());
    expect(said.filter((l) => /wallet|deposit|faucet/i.test(l))).toEqual([]);
  });

  it("of this code: read as given", async () => {
    const chain = await fetchChainConfig(await serverNaming(THIS_CODES_REGISTRY.toRawString()));
    expect(() =>
      tonRegistryReader(new TonClient({ endpoint: chain!.endpoint }), Address.parse(chain!.registry!)),
    ).not.toThrow();
  });
});
