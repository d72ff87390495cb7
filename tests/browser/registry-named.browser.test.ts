import { Address } from "@ton/core";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { compiled } from "../../contracts/compile";
import { ESCROW_CODE_HASH, PROVIDER_ENTRY_CODE_HASH } from "../../contracts/generated/code-hashes";
import { THIS_CODES_REGISTRY } from "../../contracts/named-code";
import { devnetPageConfig } from "../../contracts/page-config";
import { NETWORK_ID, type PageConfig } from "../../protocol";
import { startServer } from "../signaling/helpers";
import { openPage } from "./chain-server";
import { openReady } from "./page-checks";
import { usePagesFixture } from "./pages-fixture";

/**
 * The pages take the chain from the server's `/api/config`, Registry included; the widget reads
 * it from a server on another origin than its own code. The pages now check that Registry against
 * the one this code deploys (its address commits to the code) and refuse another, naming both
 * addresses, before anything is read from it or paid. It used to be read as given. Likewise an
 * Escrow or entry code other than the code compiled here (the code fixes where a deposit or a
 * stake goes): refused, naming the hashes; it used to be used as given. And a close delay beyond a
 * week (a deposit locked that long after the owner closes): refused, naming it; the client page
 * used to deposit under it. A real signaling server
 * (socket.io on loopback) on the same devnet, whose config names another Registry or code.
 */
const f = usePagesFixture();
const OTHER = `0:${"ab".repeat(32)}`;

async function lyingConfigServer(lie: Partial<PageConfig> = { registry: OTHER }): Promise<string> {
  const { url } = await startServer({
    staticDir: f.dir,
    pageConfig: { ...devnetPageConfig(f.devnet.chain, 5), ...lie },
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

describe("Escrow or entry code the server names that is not this code's", () => {
  const codeRefusal = /is not the code compiled here/;
  const otherCode = async () => (await compiled("registry")).code.toBoc().toString("base64");

  it("the client page refuses the chain (no deposit into a look-alike), naming the Escrow code's hash", async () => {
    const url = await lyingConfigServer({ escrowCode: await otherCode() });
    const page = await openPage(f.browser, `${url}/`, "client");
    const wallet = page.getByRole("button", { name: /^Wallet/ });
    if (await wallet.isVisible()) await wallet.click();
    const note = page.getByRole("note").filter({ hasText: codeRefusal });
    await note.waitFor({ timeout: 30_000 });
    expect((await note.textContent()) ?? "").toContain(ESCROW_CODE_HASH);
    expect(await page.getByRole("button", { name: /^Deposit/ }).count()).toBe(0);
  }, 120_000);

  it("the provider page refuses another entry code (no stake into a look-alike)", async () => {
    const url = await lyingConfigServer({ entryCode: await otherCode() });
    const page = await openPage(f.browser, `${url}/provider`, "provider");
    const note = page.getByRole("note").filter({ hasText: codeRefusal });
    const wallet = page.getByRole("button", { name: /wallet/i }).first();
    if (!(await note.isVisible()) && (await wallet.isVisible())) await wallet.click();
    await note.waitFor({ timeout: 30_000 });
    expect((await note.textContent()) ?? "").toContain(PROVIDER_ENTRY_CODE_HASH);
  }, 120_000);
});

describe("a close delay the server names beyond a week", () => {
  it("the client page refuses the chain (no deposit locked a year after you close), naming the delay", async () => {
    const url = await lyingConfigServer({ closeDelay: 366 * 86_400 });
    const page = await openPage(f.browser, `${url}/`, "client");
    const wallet = page.getByRole("button", { name: /^Wallet/ });
    if (await wallet.isVisible()) await wallet.click();
    const note = page.getByRole("note").filter({ hasText: /names an escrow close delay of/ });
    await note.waitFor({ timeout: 30_000 });
    expect((await note.textContent()) ?? "").toContain(String(366 * 86_400));
    expect(await page.getByRole("button", { name: /^Deposit/ }).count()).toBe(0);
  }, 120_000);
});

describe("a returning browser, and a server that now names another chain", () => {
  /** The server's config as a man in the middle of `/api/config` rewrites it from now on. */
  async function rewriteConfig(page: Page, lie: Partial<PageConfig>) {
    const honest = devnetPageConfig(f.devnet.chain, 5);
    await page
      .context()
      .route("**/api/config", (route) =>
        route.fulfill({ json: { ...honest, ...lie }, headers: { "access-control-allow-origin": "*" } }),
      );
  }
  const changed = /now names .* this browser has used with it/;

  it("the client page refuses another network, or another endpoint, until the user accepts it", async () => {
    const url = await lyingConfigServer({});
    const page = await openPage(f.browser, `${url}/`, "client");
    const showWallet = async () => {
      const wallet = page.getByRole("button", { name: /^Wallet/ });
      if (await wallet.isVisible()) await wallet.click();
    };
    await showWallet();
    await expect.poll(() => page.getByTestId("network").textContent(), { timeout: 30_000 }).toBe("devnet");

    // Another endpoint on the same network: refused, naming both.
    await rewriteConfig(page, { tonEndpoint: "http://127.0.0.1:9/jsonRPC" });
    await openReady(page, `${url}/`);
    await showWallet();
    const note = page.getByRole("note").filter({ hasText: changed });
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toContain("http://127.0.0.1:9/jsonRPC");
    expect(await note.textContent()).toContain(`${url}/ton/jsonRPC`);
    expect(await page.getByRole("button", { name: /^Deposit/ }).count()).toBe(0);

    // Another network: refused the same way; the user may accept it, and the page then uses it.
    await page.context().unroute("**/api/config");
    await rewriteConfig(page, { network: "testnet", globalId: NETWORK_ID.testnet });
    await openReady(page, `${url}/`);
    await showWallet();
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toMatch(/now names testnet .* not the devnet/);
    expect(await page.getByTestId("network").count()).toBe(0);
    await page.getByRole("button", { name: "Use testnet from now on" }).click();
    await expect.poll(() => page.getByTestId("network").textContent(), { timeout: 30_000 }).toBe("testnet");
  }, 180_000);

  it("the provider page refuses another network until the user accepts it", async () => {
    const url = await lyingConfigServer({});
    const page = await openPage(f.browser, `${url}/provider`, "provider");
    const showWallet = async () => {
      const wallet = page.getByRole("button", { name: /wallet/i }).first();
      if ((await page.getByTestId("network").count()) === 0 && (await wallet.isVisible()))
        await wallet.click();
    };
    await showWallet();
    await expect.poll(() => page.getByTestId("network").textContent(), { timeout: 30_000 }).toBe("devnet");
    await rewriteConfig(page, { network: "testnet", globalId: NETWORK_ID.testnet });
    await openReady(page, `${url}/provider`);
    const note = page.getByRole("note").filter({ hasText: changed });
    if (!(await note.isVisible())) await showWallet();
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toMatch(/now names testnet .* not the devnet/);
    await page.getByRole("button", { name: "Use testnet from now on" }).click();
    await expect.poll(() => page.getByTestId("network").textContent(), { timeout: 30_000 }).toBe("testnet");
  }, 180_000);
});

describe("a widget whose embedding page chose the network", () => {
  /** A host page on the server's origin embedding the widget with `attributes`. */
  async function embed(url: string, attributes: string): Promise<Page> {
    const page = await (await f.browser.newContext()).newPage();
    await page.route(`${url}/embed.html`, (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><script type="module" src="/widget/silk-chat.js"></script><silk-chat ${attributes}></silk-chat>`,
      }),
    );
    await page.goto(`${url}/embed.html`);
    await page.locator("silk-chat[data-ready=true]").waitFor({ state: "attached", timeout: 30_000 });
    await page.locator("silk-chat").getByRole("button", { name: "Wallet", exact: true }).click();
    return page;
  }

  it("refuses a server naming another network, naming both; the network chosen is used", async () => {
    const url = await lyingConfigServer({});
    const refused = await embed(url, 'network="testnet"');
    const note = refused
      .getByRole("note")
      .filter({ hasText: /names devnet, not testnet, the network you chose/ });
    await note.waitFor({ timeout: 30_000 });
    expect(await refused.getByRole("button", { name: /^Deposit/ }).count()).toBe(0);

    const chosen = await embed(url, 'network="devnet"');
    await expect.poll(() => chosen.getByTestId("network").textContent(), { timeout: 30_000 }).toBe("devnet");
  }, 120_000);
});
