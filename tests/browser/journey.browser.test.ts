import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EscrowParams } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { decodeSignedReceipt } from "../../protocol";
import { freePort } from "../signaling/redis-server";
import { buildPages } from "./build-pages";
import {
  auditClaims,
  balanceChange,
  balanceChangeSince,
  claimedReceipt,
  feesOf,
  internalOut,
  isReserveRaise,
  lastLt,
  rentOf,
  transactionsSince,
  valueIn,
} from "./chain-audit";
import {
  fundClientEscrow,
  idbRead,
  openPage,
  serveFromProviderPage,
  sessionKeyOf,
  text,
  tonOf,
  waitForText,
} from "./chain-server";
import { launchChromium } from "./chromium";
import { screenshot, seriousA11yViolations } from "./page-checks";

/**
 * Issue 7's journey, as a user and an auditor would see it. Silk is started the way a user starts
 * it: `node --import tsx silk.ts`, what `npm start` runs after building (here the pages are the
 * test build, whose provider page takes the scripted engine). A provider page registers; a client
 * page funds its escrow from the faucet, asks two questions, stops one answer midway, reloads and
 * asks again; the provider claims; the client closes its escrow and withdraws. Every number is
 * reconciled, each read where a user or an auditor reads it: tokens streamed (the answers' stats,
 * the conversation export, the provider's counters), tokens receipted (the receipt each side holds
 * and the one each claim carried on chain), nanoTON paid (the escrow's paid counter, the payout
 * address's balance and transactions), nanoTON refunded (the escrow's and the wallet's
 * transactions). Finally Ctrl-C (SIGINT to the process group, as a terminal sends it) stops Silk
 * with exit code 0.
 */
const PRICE = 1_000_000n; // nanoTON per token: every claim here is above the escrow's minimum
const DEPOSIT = 5_000_000_000n;
const CLOSE_DELAY = 5;
const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

let silk: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let output = "";
let devnetDir: string;
let staticDir: string;
let url: string;
let devnetEndpoint: string;
let chain: TonClient;
let browser: Browser;
/** What the journey reconciled, printed at the end. */
const journal: Record<string, unknown> = {};

beforeAll(async () => {
  staticDir = await buildPages({ testEngine: true });
  const [port, devnetPort] = [await freePort(), await freePort()];
  devnetDir = mkdtempSync(join(tmpdir(), "silk-journey-devnet-"));
  // A process group of its own, so the test can press "Ctrl-C" the way a terminal does.
  silk = spawn(process.execPath, ["--import", "tsx", "silk.ts"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      DEVNET_PORT: String(devnetPort),
      DEVNET_DIR: devnetDir,
      ESCROW_CLOSE_DELAY: String(CLOSE_DELAY),
      STATIC_DIR: staticDir,
    },
  });
  exited = new Promise((resolve) => silk.once("exit", (code, signal) => resolve({ code, signal })));
  for (const stream of [silk.stdout!, silk.stderr!])
    stream.on("data", (b: Buffer) => {
      output += b.toString();
    });
  await waitFor(
    () => {
      if (silk.exitCode !== null)
        throw new Error(`Silk exited (${silk.exitCode}) before running:\n${output}`);
      return output.includes("Ctrl-C to stop.");
    },
    60_000,
    () => `Silk never said it was running:\n${output}`,
  );
  url = `http://127.0.0.1:${port}`;
  devnetEndpoint = `http://127.0.0.1:${devnetPort}/jsonRPC`;
  chain = new TonClient({ endpoint: devnetEndpoint });
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  console.log(
    "journey reconciled:",
    JSON.stringify(journal, (_, v) => (typeof v === "bigint" ? `${v}` : v)),
  );
  await browser?.close();
  if (silk && silk.exitCode === null && silk.signalCode === null) process.kill(-silk.pid!, "SIGKILL");
  for (const dir of [devnetDir, staticDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the journey: npm start, a provider tab, a client tab, TON in and out", () => {
  let provider: Page;
  let client: Page;
  let payout: Address;
  let payoutLt: bigint;
  let payoutBalance: bigint;
  let escrowAddress: Address;
  /** Per answer, as the client's stats show it. */
  const shown: { completion: number; cost: bigint }[] = [];

  it("Silk says it is running and where each part is", async () => {
    expect(output).toContain("Silk is running.");
    for (const line of [
      `web client        ${url}/`,
      `provider page     ${url}/provider`,
      `widget demo       ${url}/widget/`,
      `signaling         ${url}  (health ${url}/healthz, metrics ${url}/metrics)`,
      `TON devnet        ${devnetEndpoint}, also ${url}/ton/jsonRPC  (faucet: POST ${url}/ton/faucet)`,
      `escrow close delay ${CLOSE_DELAY} s`,
    ])
      expect(output).toContain(line);
    const health = await fetch(`${url}/healthz`);
    expect(health.ok).toBe(true);
    expect(((await (await fetch(`${url}/api/config`)).json()) as { network: string }).network).toBe("devnet");
  });

  it("the provider page (test engine) takes test TON, registers and serves", async () => {
    provider = await openPage(browser, `${url}/provider`, "provider");
    expect(await text(provider, "adapter")).toBe("scripted test engine");
    expect(await text(provider, "network")).toBe("devnet");
    await serveFromProviderPage(provider, { price: PRICE, register: true });
    payout = Address.parse((await text(provider, "wallet-address"))!);
    [payoutLt, payoutBalance] = [await lastLt(chain, payout), await chain.getBalance(payout)];
  }, 90_000);

  it("the client funds its escrow from the faucet: the escrow got exactly the deposit", async () => {
    client = await openPage(browser, `${url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await fundClientEscrow(client, "5");
    escrowAddress = Address.parse((await text(client, "escrow-address"))!);
    const [deployTx, ...others] = await transactionsSince(chain, escrowAddress, 0n);
    expect(others).toEqual([]);
    expect(valueIn(deployTx!)).toBe(DEPOSIT);
    expect(balanceChange(deployTx!)).toBe(await chain.getBalance(escrowAddress));
    expect(tonOf(await text(client, "escrow-balance"))).toBe(await chain.getBalance(escrowAddress));
    await client.getByLabel("Answer tokens").fill(PRICE.toString());
    await client.getByLabel("Prompt tokens").fill(PRICE.toString());
    await client.getByRole("button", { name: "Save prices" }).click();
  }, 90_000);

  it("asks two questions and stops the second answer midway: billed only for what streamed", async () => {
    await ask(client, "What does Silk do?");
    await client.getByTestId("answer-stats").nth(0).waitFor({ timeout: 30_000 });
    // A long answer (one word per token), stopped while it streams.
    const long = Array.from({ length: 600 }, (_, i) => `w${i}`).join(" ");
    await ask(client, long);
    await client.getByTestId("turn-assistant").nth(1).getByText("w3 ").waitFor({ timeout: 30_000 });
    await client.getByRole("button", { name: "Stop" }).click();
    const stopped = await waitForText(client, "answer-stats", (s) => s.includes("stopped"));
    for (const i of [0, 1]) shown.push(await answerShown(client, i));
    expect(shown[1]!.completion).toBeGreaterThan(4);
    expect(shown[1]!.completion).toBeLessThan(601);
    expect(stopped.replace(/\s+/g, " ")).toContain(`${shown[1]!.completion} answer tokens`);
    // What streamed is what the client holds: one word per token, nothing billed beyond it.
    const [, second] = answersOf(await exportConversations(client));
    expect(second!.stats.finish).toBe("abort");
    expect(second!.content.trim().split(/\s+/)).toHaveLength(shown[1]!.completion);
    expect(BigInt(second!.stats.cost)).toBe(
      BigInt(second!.stats.promptTokens + shown[1]!.completion) * PRICE,
    );
    await waitForText(client, "meter", (s) => tonOf(s) === shown[0]!.cost + shown[1]!.cost);
  }, 90_000);

  it("after a reload the conversation and the cost meter are intact, and a third answer adds to the same receipt stream", async () => {
    const before = {
      meter: await text(client, "meter"),
      conversation: await text(client, "conversation-cost"),
      turns: await client.getByTestId("turn-assistant").allTextContents(),
      receipts: await idbRead<{ key: string; text: string }[]>(client, "receipts"),
    };
    expect(before.receipts).toHaveLength(1);
    await client.reload();
    await client.waitForSelector("body[data-ready=true]", { state: "attached" });
    await client.getByTestId("answer-stats").nth(1).waitFor();
    expect(await text(client, "meter")).toBe(before.meter);
    expect(await text(client, "conversation-cost")).toBe(before.conversation);
    expect(await client.getByTestId("turn-assistant").allTextContents()).toEqual(before.turns);

    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    await ask(client, "And after a reload?");
    await client.getByTestId("answer-stats").nth(2).waitFor({ timeout: 30_000 });
    expect(await client.getByTestId("turn-assistant").nth(2).textContent()).toContain(
      "Echo: And after a reload?",
    );
    shown.push(await answerShown(client, 2));
    const total = shown.reduce((sum, a) => sum + a.cost, 0n);
    await waitForText(client, "meter", (s) => tonOf(s) === total);
    // Still one stream (escrow, payout, key epoch): the new receipt carries on from the old one.
    const after = await idbRead<{ key: string; text: string }[]>(client, "receipts");
    expect(after.map((r) => r.key)).toEqual(before.receipts.map((r) => r.key));
    const [old, now] = [before.receipts[0]!, after[0]!].map((r) => decodeSignedReceipt(r.text).receipt);
    expect(now!.amount - old!.amount).toBe(shown[2]!.cost);
  }, 90_000);

  it("tokens streamed = tokens receipted, on both sides, and the nanoTON follow from the price", async () => {
    const answers = answersOf(await exportConversations(client));
    expect(answers.map((a) => a.stats.completionTokens)).toEqual(shown.map((a) => a.completion));
    expect(answers.map((a) => BigInt(a.stats.cost))).toEqual(shown.map((a) => a.cost));
    for (const a of answers)
      expect(BigInt(a.stats.cost)).toBe(BigInt(a.stats.promptTokens + a.stats.completionTokens) * PRICE);
    const streamed = answers.reduce((n, a) => n + a.stats.promptTokens + a.stats.completionTokens, 0);
    journal.streamed = answers.map(({ stats: { promptTokens, completionTokens, finish, cost } }) => ({
      promptTokens,
      completionTokens,
      finish,
      cost,
    }));
    const cost = shown.reduce((sum, a) => sum + a.cost, 0n);

    // The provider served three requests, the same tokens, and holds one receipt for all of them.
    await waitForText(provider, "requests-served", (s) => s === "3");
    await waitForText(provider, "tokens-served", (s) => s === String(streamed));
    await waitForText(provider, "earned", (s) => tonOf(s) === cost);
    const streams = await idbRead<{ latest: string }[]>(provider, "streams");
    expect(streams).toHaveLength(1);
    // The very receipt the client signed last is the one the provider holds.
    const [signed] = await idbRead<{ text: string }[]>(client, "receipts");
    expect(streams[0]!.latest).toBe(signed!.text);
    const held = decodeSignedReceipt(streams[0]!.latest).receipt;
    expect(held.tokens).toBe(BigInt(streamed));
    expect(held.amount).toBe(cost);
    expect(held.escrow.equals(escrowAddress) && held.payout.equals(payout)).toBe(true);
    expect(tonOf(await text(client, "meter"))).toBe(cost);
  }, 60_000);

  it("the provider claims: paid = the receipt, and the payout's balance rose by it less the fees", async () => {
    const cost = shown.reduce((sum, a) => sum + a.cost, 0n);
    // The provider also claims by itself when a session ends: on a loaded machine the session may
    // have ended and that claim paid it all, which leaves nothing to click.
    const claim = provider.getByRole("button", { name: "Claim now" });
    const settled = async () => tonOf((await text(provider, "settled")) ?? "") === cost;
    await expect
      .poll(async () => (await claim.isEnabled()) || (await settled()), { timeout: 60_000 })
      .toBe(true);
    if (await claim.isEnabled()) await claim.click({ timeout: 5_000 }).catch(() => undefined);
    await waitForText(provider, "settled", (s) => tonOf(s) === cost, 60_000);
    expect(tonOf(await text(provider, "pending"))).toBe(0n);
    const escrow = chain.open(Escrow.createFromAddress(escrowAddress));
    const epoch = (await escrow.getKey(await sessionKeyOf(client)))!.epoch;
    expect(await escrow.getPaid(epoch, payout)).toBe(cost);

    // One claim or two (the provider also claims by itself when the reload ended the first
    // session): each paid its new part of the receipt, and together exactly the receipt.
    const claims = auditClaims(await transactionsSince(chain, escrowAddress, 0n), payout);
    expect(claims.length).toBeGreaterThanOrEqual(1);
    expect(claims.at(-1)!.receipt.amount).toBe(cost);
    expect(claims.at(-1)!.receipt.tokens).toBe(BigInt(Number(await text(provider, "tokens-served"))));
    expect(claims.reduce((sum, c) => sum + c.paid, 0n)).toBe(cost);
    // Every transaction of the payout address since it registered is a claim's payout arriving.
    const { txs, change } = await balanceChangeSince(chain, payout, payoutLt);
    expect(txs).toHaveLength(claims.length);
    txs.forEach((tx, i) => {
      const info = tx.inMessage!.info;
      expect(info.type === "internal" && info.src.equals(escrowAddress)).toBe(true);
      expect(valueIn(tx)).toBe(claims[i]!.payoutValue);
    });
    const claimFees = claims.reduce((sum, c) => sum + c.claimFees, 0n);
    const receiveFees = txs.reduce((sum, tx) => sum + tx.totalFees.coins, 0n);
    expect(change).toBe(cost - claimFees - receiveFees);
    expect((await chain.getBalance(payout)) - payoutBalance).toBe(change);
    journal.paid = { cost, claims: claims.length, claimFees, receiveFees, rise: change };
    await screenshot(provider, "journey-provider-claimed");
    expect(await seriousA11yViolations(provider)).toEqual([]);
  }, 150_000);

  it("the client closes its escrow and, after the delay, withdraws the rest: every nanoTON accounted for", async () => {
    const walletButton = client.getByRole("button", { name: /^Wallet/ });
    if ((await walletButton.getAttribute("aria-expanded")) !== "true") await walletButton.click();
    await client.getByRole("button", { name: "Close escrow" }).click();
    await client.getByRole("button", { name: "Yes, close the escrow" }).click();
    await client.getByTestId("closing").waitFor({ timeout: 30_000 });
    const withdraw = client.getByRole("button", { name: "Withdraw" });
    await expect.poll(() => withdraw.isEnabled(), { timeout: 30_000 }).toBe(true);
    const wallet = Address.parse((await text(client, "wallet-address"))!);
    const [walletLt, walletBalance] = [await lastLt(chain, wallet), await chain.getBalance(wallet)];
    const escrowBalance = await chain.getBalance(escrowAddress);
    const escrowLt = await lastLt(chain, escrowAddress);
    await withdraw.click();
    await expect
      .poll(() => chain.getBalance(escrowAddress), { timeout: 30_000 })
      .toBe(EscrowParams.STORAGE_RESERVE);

    // The withdrawal, from the escrow's side: one transaction, one message home.
    const [withdrawTx, ...more] = await transactionsSince(chain, escrowAddress, escrowLt);
    expect(more).toEqual([]);
    const [refund, ...otherOut] = internalOut(withdrawTx!);
    expect(otherOut).toEqual([]);
    expect(refund!.to.equals(wallet)).toBe(true);
    // The wallet's side: it sent the withdraw message, then received the refund.
    const { txs: walletTxs, change: walletRise } = await balanceChangeSince(chain, wallet, walletLt);
    expect(walletTxs).toHaveLength(2);
    const [sendTx, receiveTx] = walletTxs as [(typeof walletTxs)[0], (typeof walletTxs)[0]];
    expect(valueIn(receiveTx)).toBe(refund!.value);
    expect((await chain.getBalance(wallet)) - walletBalance).toBe(walletRise);
    expect(walletRise).toBe(
      escrowBalance - EscrowParams.STORAGE_RESERVE - feesOf(withdrawTx!) - feesOf(sendTx) - feesOf(receiveTx),
    );

    // The escrow's whole life: what came in (the deposit and the owner's close and withdraw
    // messages), less what providers were paid, less its own costs (rent, gas, forwarding, the gas
    // of the page's reserve raises), less the refund, is the storage reserve it keeps.
    const life = await transactionsSince(chain, escrowAddress, 0n);
    const cost = shown.reduce((sum, a) => sum + a.cost, 0n);
    const claims = life.filter((tx) => claimedReceipt(tx));
    const owner = life.filter((tx) => !claimedReceipt(tx));
    // The client page reserved ahead of what it signed, by the session key, without a wallet prompt:
    // raises are externals that pay nobody.
    const raises = life.filter(isReserveRaise);
    expect(raises.length).toBeGreaterThan(0);
    for (const tx of raises) expect(internalOut(tx)).toEqual([]);
    const paidIn = owner.reduce((sum, tx) => sum + valueIn(tx), 0n);
    const costs =
      owner.reduce((sum, tx) => sum + feesOf(tx), 0n) + claims.reduce((sum, tx) => sum + rentOf(tx), 0n);
    expect(owner.map((tx) => valueIn(tx))[0]).toBe(DEPOSIT);
    expect(paidIn - cost - costs - refund!.value).toBe(EscrowParams.STORAGE_RESERVE);
    expect(life.reduce((sum, tx) => sum + balanceChange(tx), 0n)).toBe(EscrowParams.STORAGE_RESERVE);
    journal.refunded = {
      deposit: DEPOSIT,
      ownerMessages: paidIn - DEPOSIT,
      paid: cost,
      escrowCosts: costs,
      reserveRaises: raises.length,
      refund: refund!.value,
      reserve: EscrowParams.STORAGE_RESERVE,
      walletRise,
    };
    await screenshot(client, "journey-client-withdrawn");
    expect(await seriousA11yViolations(client)).toEqual([]);
  }, 90_000);

  it("Ctrl-C stops Silk cleanly, with both tabs still open", async () => {
    process.kill(-silk.pid!, "SIGINT");
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output).toContain('"msg":"closed"');
  }, 30_000);
});

async function ask(page: Page, question: string): Promise<void> {
  await page.getByRole("textbox", { name: "Your question" }).fill(question);
  await page.keyboard.press("Enter");
}

/** Answer `i`'s tokens and cost, read from its stats line. */
async function answerShown(page: Page, i: number): Promise<{ completion: number; cost: bigint }> {
  const stats = page.getByTestId("answer-stats").nth(i);
  const completion = Number(await stats.getByTestId("completion-tokens").textContent());
  return { completion, cost: tonOf(await stats.getByTestId("answer-cost").textContent()) };
}

interface ExportedAnswer {
  role: "assistant";
  content: string;
  stats: { promptTokens: number; completionTokens: number; cost: string; finish: string };
}

/** The user's own record: the conversations export the client page downloads. */
async function exportConversations(page: Page): Promise<{ conversations: { turns: unknown[] }[] }> {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export" }).click(),
  ]);
  return JSON.parse(readFileSync((await download.path())!, "utf8"));
}

function answersOf(file: { conversations: { turns: unknown[] }[] }): ExportedAnswer[] {
  expect(file.conversations).toHaveLength(1);
  return (file.conversations[0]!.turns as { role: string }[]).filter(
    (t): t is ExportedAnswer => t.role === "assistant",
  );
}

async function waitFor(ok: () => boolean, timeout: number, why: () => string): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeout) throw new Error(why());
    await new Promise((r) => setTimeout(r, 100));
  }
}
