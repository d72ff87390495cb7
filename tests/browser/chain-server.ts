import { TonClient } from "@ton/ton";
import type { Browser, Page } from "playwright-core";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { DEVNET_MOUNT, devnetPageConfig } from "../../contracts/page-config";
import { keyPairFromSecret, type PageConfig } from "../../protocol";
import { startServer } from "../signaling/helpers";
import { openReady } from "./page-checks";

/**
 * The real signaling server with the devnet mounted at `/ton` and `/api/config` naming it, as
 * `npm start` runs them, in this process. The caller closes `devnet` (and `cleanup()` the server).
 */
export async function startChainServer(
  staticDir: string,
  closeDelay = 5,
  /** Another server on a devnet already running; the client pages' wallet (the dev wallet by default). */
  opts: { devnet?: Devnet; wallet?: PageConfig["wallet"] } = {},
) {
  const devnet: Devnet = opts.devnet ?? (await startDevnet({}));
  const { url, server } = await startServer({
    staticDir,
    pageConfig: devnetPageConfig(devnet.chain, closeDelay, opts.wallet),
    mounts: [{ prefix: DEVNET_MOUNT, handle: devnet.handle }],
  });
  return { url, server, devnet, client: new TonClient({ endpoint: devnet.endpoint }) };
}

/** The text of the last element with this test id. */
export const text = (page: Page, testId: string) => page.getByTestId(testId).last().textContent();

export async function waitForText(page: Page, testId: string, ok: (s: string) => boolean, timeout = 30_000) {
  const start = Date.now();
  for (;;) {
    const s = (await text(page, testId).catch(() => null)) ?? "";
    if (ok(s)) return s;
    if (Date.now() - start > timeout) throw new Error(`${testId} never satisfied the condition; last: ${s}`);
    await page.waitForTimeout(100);
  }
}

/** "1.5 TON" → nanoTON. */
export const tonOf = (s: string | null) => {
  const m = /([\d.]+) TON/.exec(s ?? "");
  if (!m) throw new Error(`no TON amount in ${s}`);
  const [whole, frac = ""] = m[1]!.split(".");
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
};

/** On the client page: open Wallet, take test TON from the faucet, deposit `amount` TON into the escrow. */
export async function fundClientEscrow(page: Page, amount = "5"): Promise<void> {
  const wallet = page.getByRole("button", { name: /^Wallet/ });
  if ((await wallet.getAttribute("aria-expanded")) !== "true") await wallet.click();
  await page.getByTestId("wallet-address").waitFor();
  await page.getByRole("button", { name: "Get 100 test TON" }).click();
  await waitForText(page, "wallet-balance", (s) => tonOf(s) >= 100_000_000_000n);
  await page.getByLabel("Amount, TON").fill(amount);
  await page.getByRole("button", { name: "Deposit", exact: true }).click();
  await waitForText(page, "key-state", (s) => s.startsWith("authorised"));
}

/** A page in a fresh browser context (its own IndexedDB), loaded and ready; page errors are logged. */
export async function openPage(browser: Browser, url: string, label: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => console.error(`${label} page error:`, e.message));
  await openReady(page, url);
  return page;
}

/**
 * On the provider page: set the price (when given), load the test model, and (with `register`) take
 * test TON and register in the Registry; then start serving.
 */
export async function serveFromProviderPage(
  page: Page,
  opts: { price?: bigint; register?: boolean; beforeRegistering?: () => Promise<void> } = {},
): Promise<void> {
  if (opts.price !== undefined) {
    const price = page.getByLabel("Price, nanoTON per token");
    await price.fill(opts.price.toString());
    await price.dispatchEvent("change");
  }
  await page.getByRole("button", { name: "Load", exact: true }).click();
  await page.getByTestId("loaded-model").waitFor();
  await opts.beforeRegistering?.();
  if (opts.register) {
    await page.getByRole("button", { name: "Get 100 test TON" }).click();
    await waitForText(page, "wallet-balance", (s) => tonOf(s) === 100_000_000_000n);
    await page.getByRole("button", { name: "Register in the Registry" }).click();
    await waitForText(page, "registry-state", (s) => s.startsWith("Registered"));
  }
  await page.getByRole("button", { name: "Start serving" }).click();
  await waitForText(page, "serving-state", (s) => s.startsWith("Serving"));
}

/** One object store of the page's IndexedDB (`silk`): the value under `key`, or every row without one. */
export function idbRead<T>(page: Page, store: string, key?: string): Promise<T> {
  return page.evaluate(
    ([name, k]) =>
      new Promise<T>((resolve, reject) => {
        const open = indexedDB.open("silk");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const objects = open.result.transaction(name!).objectStore(name!);
          const req = k === undefined ? objects.getAll() : objects.get(k);
          req.onerror = () => reject(req.error);
          req.onsuccess = () => resolve(req.result as T);
        };
      }),
    [store, key] as const,
  );
}

/** The session key the client page authorised in its escrow, from its IndexedDB. */
export async function sessionKeyOf(page: Page): Promise<Uint8Array> {
  const secret = await idbRead<Uint8Array>(page, "kv", "client.session-key");
  return keyPairFromSecret(new Uint8Array(Object.values(secret))).publicKey;
}
