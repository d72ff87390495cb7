import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { devnetPageConfig } from "../../contracts/page-config";
import { THIS_CODES_REGISTRY } from "../../contracts/registry-code";
import { startServer } from "../signaling/helpers";
import { openPage } from "./chain-server";
import { usePagesFixture } from "./pages-fixture";

/**
 * The pages take the chain from the server's `/api/config`, Registry included; the widget reads
 * it from a server on another origin than its own code. The pages now check that Registry against
 * the one this code deploys (its address commits to the code) and refuse another, naming both
 * addresses, before anything is read from it or paid. It used to be read as given. A real
 * signaling server (socket.io on loopback) on the same devnet, whose config names another Registry.
 */
const f = usePagesFixture();
const OTHER = `0:${"ab".repeat(32)}`;

async function lyingConfigServer(): Promise<string> {
  const { url } = await startServer({
    staticDir: f.dir,
    pageConfig: { ...devnetPageConfig(f.devnet.chain, 5), registry: OTHER },
    mounts: [{ prefix: "/ton", handle: f.devnet.handle }],
  });
  return url;
}

const refusal = /is not the Registry the contracts compiled here deploy/;

describe("a Registry the server names that is not this code's", () => {
  it("the client page refuses the chain, naming both addresses", async () => {
    const url = await lyingConfigServer();
    const page = await openPage(f.browser, `${url}/`, "client");
    const wallet = page.getByRole("button", { name: /^Wallet/ });
    if (await wallet.isVisible()) await wallet.click();
    const note = page.getByRole("note").filter({ hasText: refusal });
    await note.waitFor({ timeout: 30_000 });
    const text = (await note.textContent()) ?? "";
    expect(text).toContain(THIS_CODES_REGISTRY.toString());
    expect(text).toContain(Address.parse(OTHER).toString());
  }, 120_000);

  it("the provider page refuses it too", async () => {
    const url = await lyingConfigServer();
    const page = await openPage(f.browser, `${url}/provider`, "provider");
    const note = page.getByRole("note").filter({ hasText: refusal });
    const wallet = page.getByRole("button", { name: /wallet/i }).first();
    if (!(await note.isVisible()) && (await wallet.isVisible())) await wallet.click();
    await note.waitFor({ timeout: 30_000 });
    expect((await note.textContent()) ?? "").toContain(THIS_CODES_REGISTRY.toString());
  }, 120_000);
});
