import type { Address, Transaction } from "@ton/core";
import { TonClient } from "@ton/ton";
import type { Page } from "playwright-core";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { DEVNET_MOUNT, devnetPageConfig } from "../../contracts/page-config";
import { startServer } from "../signaling/helpers";

/**
 * The real signaling server with the devnet mounted at `/ton` and `/api/config` naming it, as
 * `npm start` runs them, in this process. The caller closes `devnet` (and `cleanup()` the server).
 */
export async function startChainServer(staticDir: string, closeDelay = 5) {
  const devnet: Devnet = await startDevnet({});
  const { url } = await startServer({
    staticDir,
    pageConfig: devnetPageConfig(devnet.chain, closeDelay),
    mounts: [{ prefix: DEVNET_MOUNT, handle: devnet.handle }],
  });
  return { url, devnet, client: new TonClient({ endpoint: devnet.endpoint }) };
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
  await page.getByRole("button", { name: "Deposit" }).click();
  await waitForText(page, "key-state", (s) => s.startsWith("authorised"));
}

/** Transactions of `address` newer than `afterLt`, oldest first. */
export async function transactionsSince(
  client: TonClient,
  address: Address,
  afterLt: bigint,
): Promise<Transaction[]> {
  const txs = await client.getTransactions(address, { limit: 50 });
  return txs.filter((t) => t.lt > afterLt).reverse();
}

export async function lastLt(client: TonClient, address: Address): Promise<bigint> {
  const [tx] = await client.getTransactions(address, { limit: 1 });
  return tx?.lt ?? 0n;
}
