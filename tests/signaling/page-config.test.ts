import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { DEVNET_MOUNT, devnetPageConfig } from "../../contracts/page-config";
import { checkPageConfig, PageConfigError } from "../../protocol";
import { fetchChainConfig } from "../../web/chain-config";
import { cleanup, startServer } from "./helpers";

let devnet: Devnet;
beforeAll(async () => {
  devnet = await startDevnet({});
});
afterAll(async () => {
  await devnet?.close();
});
afterEach(cleanup);

describe("GET /api/config and the devnet mounted on the pages' origin", () => {
  it("serves the page config it was given, and the devnet's API under /ton, faucet included", async () => {
    const pageConfig = devnetPageConfig(devnet.chain, 7);
    const { url } = await startServer({
      pageConfig,
      mounts: [{ prefix: DEVNET_MOUNT, handle: devnet.handle }],
    });
    const res = await fetch(`${url}/api/config`);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.json()).toEqual(pageConfig);

    // What a page makes of it: endpoints absolute against the server it came from.
    const chain = await fetchChainConfig(url);
    expect(chain).toMatchObject({
      network: "devnet",
      closeDelay: 7,
      endpoint: `${url}/ton/jsonRPC`,
      faucet: `${url}/ton/faucet`,
    });

    const address = `0:${"cd".repeat(32)}`;
    const faucet = await fetch(chain!.faucet!, {
      method: "POST",
      body: JSON.stringify({ address, amount: "5" }),
    });
    expect(await faucet.json()).toMatchObject({ ok: true });
    const rpc = await fetch(chain!.endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: 1, jsonrpc: "2.0", method: "getAddressInformation", params: { address } }),
    });
    expect(((await rpc.json()) as { result: { balance: string } }).result.balance).toBe("5");
    // Not the mount: the server's own routes still answer.
    expect((await fetch(`${url}/tonx/jsonRPC`)).status).toBe(404);
  });

  it("says 404 when no chain is named; refuses configs whose network and global id disagree", async () => {
    const { url } = await startServer();
    expect((await fetch(`${url}/api/config`)).status).toBe(404);
    expect(await fetchChainConfig(url)).toBeUndefined();
    const good = devnetPageConfig(devnet.chain, 60);
    expect(() => checkPageConfig({ ...good, network: "mainnet" })).toThrow(PageConfigError);
    expect(() => checkPageConfig({ ...good, tonEndpoint: "javascript:alert(1)" })).toThrow(/tonEndpoint/);
    expect(() => checkPageConfig({ ...good, closeDelay: 0 })).toThrow(/closeDelay/);
  });
});
