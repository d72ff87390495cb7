import wrtc from "@roamhq/wrtc";
import { Address, toNano } from "@ton/core";
import type { TonClient } from "@ton/ton";
import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../client/sdk/silk-client";
import type { Devnet } from "../../contracts/devnet";
import { EscrowParams } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { ProviderEntryContract } from "../../contracts/wrappers/registry";
import { NETWORK_ID } from "../../protocol";
import { formatTon } from "../../protocol/ton-amount";
import { devnetInfo, requester } from "../provider/devnet-sessions";
import { cleanup } from "../signaling/helpers";
import { buildPages } from "./build-pages";
import { auditClaims, lastLt, transactionsSince } from "./chain-audit";
import {
  fundClientEscrow,
  openPage,
  serveFromProviderPage,
  sessionKeyOf,
  startChainServer,
  text,
  tonOf,
  waitForText,
} from "./chain-server";
import { launchChromium } from "./chromium";
import {
  keyboardWalk,
  offReason,
  offReasonOnPress,
  openReady,
  screenshot,
  seriousA11yViolations,
} from "./page-checks";
import { installWalletDouble, WALLET_DOUBLE_NAME } from "./tonconnect-double";

/**
 * The pages on chain: the real server with the devnet behind `/api/config` and `/ton`, a provider
 * page (test engine build) that registers in the Registry and claims, a client page that funds its
 * escrow from the faucet through the dev wallet, asks, closes and withdraws. Every amount is read
 * back from the chain's transactions.
 */
const PRICE = 1_000_000n; // nanoTON per token: a few tokens are worth more than a claim's minimum
let url: string;
let devnet: Devnet;
let chain: TonClient;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  dir = await buildPages({ testEngine: true });
  ({ url, devnet, client: chain } = await startChainServer(dir, 5));
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await cleanup();
  await devnet?.close();
});

/** The client takes PRICE as its highest price, asks `question` and waits for the answer's stats. */
async function askAtPrice(client: Page, question: string): Promise<void> {
  await client.getByLabel("Answer tokens").fill(PRICE.toString());
  await client.getByLabel("Prompt tokens").fill(PRICE.toString());
  await client.getByRole("button", { name: "Save prices" }).click();
  await client.getByRole("textbox", { name: "Your question" }).fill(question);
  await client.keyboard.press("Enter");
  await client.getByTestId("answer-stats").last().waitFor({ timeout: 30_000 });
}

describe("the pages on the devnet", () => {
  let provider: Page;
  let client: Page;

  it("the provider page takes test TON, registers in the Registry and serves", async () => {
    provider = await openPage(browser, `${url}/provider`, "provider");
    expect(await text(provider, "network")).toBe("devnet");
    const wallet = (await text(provider, "wallet-address"))!;
    expect(await provider.getByLabel("Payout address").inputValue()).toBe(wallet);
    await serveFromProviderPage(provider, {
      price: PRICE,
      register: true,
      beforeRegistering: async () => {
        await screenshot(provider, "provider-devnet-unregistered");
        expect(await seriousA11yViolations(provider)).toEqual([]);
      },
    });
    expect(await text(provider, "registry-state")).toContain("test-model");
  }, 90_000);

  it("the client cannot ask before it deposits, and is told what to do", async () => {
    client = await openPage(browser, `${url}/`, "client");
    await client.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    // Before the first question a newcomer reads what asking costs and what is missing.
    expect(
      (await waitForText(client, "first-run", (s) => s.includes("escrow"))).replace(/\s+/g, " "),
    ).toMatch(
      /paid per token \(test-model: [\d.]+ TON a token, question and answer\) from your escrow, which is empty: deposit under Wallet first\.$/,
    );
    await client.getByRole("button", { name: "Open Wallet to deposit" }).waitFor();
    await client.getByRole("textbox", { name: "Your question" }).fill("hello before paying");
    await client.keyboard.press("Enter");
    await client
      .getByText(/deposit in Wallet/)
      .first()
      .waitFor();
    // The way there is one button away.
    await client.getByRole("button", { name: "Open Wallet to deposit" }).click();
    expect(await client.getByRole("button", { name: /^Wallet/ }).getAttribute("aria-expanded")).toBe("true");
    await client.getByTestId("escrow-balance").waitFor();
    // A deposit the network does not take (the node refuses the message): said in words, with what
    // to do next; nothing deposited, the key still unauthorised, and Deposit there to try again.
    await client.getByRole("button", { name: "Get 100 test TON" }).click();
    await waitForText(client, "wallet-balance", (s) => tonOf(s) >= 100_000_000_000n);
    const refuse = (route: Route) =>
      /sendBoc/.test(route.request().postData() ?? "") ? route.abort("connectionrefused") : route.fallback();
    await client.route("**/ton/jsonRPC", refuse);
    try {
      await client.getByLabel("Amount, TON").fill("1");
      await client.getByRole("button", { name: "Deposit", exact: true }).click();
      expect(await waitForText(client, "money-problem", (s) => s.length > 0)).toBe(
        "Deposit: the TON network could not be reached just now. Nothing was sent; try again in a moment.",
      );
      expect(await client.getByRole("alert").filter({ hasText: "Deposit:" }).count()).toBe(1);
      expect(await text(client, "key-state")).not.toMatch(/^authorised/);
      expect(await client.getByRole("button", { name: "Deposit", exact: true }).isEnabled()).toBe(true);
      expect(await seriousA11yViolations(client)).toEqual([]);
    } finally {
      await client.unroute("**/ton/jsonRPC", refuse);
    }
    await client.keyboard.press("Escape");
  }, 60_000);

  it("funds its escrow from the faucet, asks, and the provider's claim pays exactly the receipt less the fees", async () => {
    await fundClientEscrow(client, "5");
    const escrowAddress = Address.parse((await text(client, "escrow-address"))!);
    const escrow = chain.open(Escrow.createFromAddress(escrowAddress));
    expect(tonOf(await text(client, "escrow-balance"))).toBe(await chain.getBalance(escrowAddress));
    await screenshot(client, "client-devnet-funded");
    expect(await seriousA11yViolations(client)).toEqual([]);

    await askAtPrice(client, "a question worth paying for");
    const signed = tonOf(await waitForText(client, "meter", (s) => tonOf(s) > 0n));
    expect(signed).toBeGreaterThan(EscrowParams.MIN_CLAIM);

    // The provider claims; nothing was claimed before (below the threshold, session still open).
    const payout = Address.parse((await text(provider, "wallet-address"))!);
    const epoch = (await escrow.getKey(await sessionKeyOf(client)))!.epoch;
    expect(await escrow.getPaid(epoch, payout)).toBe(0n);
    // The page reserved this provider's stream before it asked (signed by its session key, no
    // wallet): the chain holds more for it than was signed, and no other provider can take that.
    const before = await escrow.getReserve(epoch, payout);
    expect(before.reserved).toBeGreaterThan(signed);
    expect(before.locked).toBe(before.reserved);
    const [escrowBefore, payoutBefore, payoutLt, escrowLt] = [
      await chain.getBalance(escrowAddress),
      await chain.getBalance(payout),
      await lastLt(chain, payout),
      await lastLt(chain, escrowAddress),
    ];
    await waitForText(provider, "earned", (s) => tonOf(s) === signed);
    await provider.getByRole("button", { name: "Claim now" }).click();
    await waitForText(provider, "settled", (s) => tonOf(s) === signed);
    expect(tonOf(await text(provider, "pending"))).toBe(0n);
    expect(await escrow.getPaid(epoch, payout)).toBe(signed);
    // Paid from the reserve: what is still locked for this provider is the reserve less the claim.
    expect((await escrow.getReserve(epoch, payout)).locked).toBe(before.reserved - signed);
    // Every money figure on the page tells the same story: earned = claimed, nothing left.
    await waitForText(provider, "claimed", (s) => tonOf(s) === signed);
    expect(tonOf(await text(provider, "unclaimed"))).toBe(0n);
    expect(tonOf(await text(provider, "earned"))).toBe(signed);

    // The escrow paid exactly the receipt, plus its own storage rent for the time since its last
    // transaction; out of the receipt came the claim's fees (gas, import, forward: the provider
    // held no TON), the payout message, and the payout wallet's own receiving fee.
    const escrowTxs = await transactionsSince(chain, escrowAddress, escrowLt);
    const [claim, ...moreClaims] = auditClaims(escrowTxs, payout);
    expect(moreClaims).toEqual([]);
    expect(escrowTxs).toHaveLength(1);
    expect(claim!.receipt.amount).toBe(signed);
    expect(escrowBefore - (await chain.getBalance(escrowAddress))).toBe(signed + claim!.rent);
    const [receiveTx, ...others] = await transactionsSince(chain, payout, payoutLt);
    expect(others).toEqual([]);
    expect((await chain.getBalance(payout)) - payoutBefore).toBe(
      signed - claim!.claimFees - receiveTx!.totalFees.coins,
    );
    // The claim history names that transaction and its fees, as the chain has them.
    const record = provider.getByTestId("claim-record").first();
    await record.waitFor({ timeout: 30_000 });
    expect(await provider.getByTestId("claim-tx").first().textContent()).toBe(
      escrowTxs[0]!.hash().toString("hex"),
    );
    expect(await record.textContent()).toContain(`fee ${formatTon(claim!.claimFees)} TON`);
    expect(tonOf(await text(provider, "fees-paid"))).toBe(claim!.claimFees);
    await screenshot(provider, "provider-devnet-claimed");
    expect(await seriousA11yViolations(provider)).toEqual([]);
  }, 120_000);

  it("an escrow that cannot fund the reserve a question needs is told so in words, and nothing is sent", async () => {
    const small = await openPage(browser, `${url}/`, "small client");
    await small.locator("select option", { hasText: "test-model" }).waitFor({ state: "attached" });
    // The least deposit (0.1 TON) against a reserve 0.1 TON ahead of what is signed, raised as
    // the provider's session opens.
    await fundClientEscrow(small, "0.1");
    const earned = await text(provider, "earned");
    await small.getByLabel("Answer tokens").fill(PRICE.toString());
    await small.getByLabel("Prompt tokens").fill(PRICE.toString());
    await small.getByRole("button", { name: "Save prices" }).click();
    await small
      .getByRole("textbox", { name: "Your question" })
      .fill("a question its escrow cannot reserve for");
    await small.keyboard.press("Enter");
    const alert = small.getByRole("alert").filter({ hasText: /could not set/ });
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.textContent()).toMatch(
      /^Your escrow could not set 0\.1\d* TON aside for this provider \(a reserve, so no other provider's claim can take its pay\), so nothing was sent\. Top it up in Wallet/,
    );
    expect(await small.getByRole("button", { name: "Open Wallet to deposit" }).count()).toBeGreaterThan(0);
    expect(await text(provider, "earned")).toBe(earned);
    await small.context().close();
  }, 120_000);

  it("a program raising no reserve is claimed from once it spends half its trust, and the claim list says so in words", async () => {
    // An SDK program (no chain given, so no reserve) with its own escrow, asking the provider page.
    const r = await requester(devnet, chain, {
      deposit: toNano("10"),
      closeDelay: 3_600,
      code: (await devnetInfo(devnet)).escrowCode,
    });
    const program = await connect({
      signalingUrl: url,
      sessionKey: r.sessionKey,
      maxPrice: { promptNanoPerToken: PRICE, completionNanoPerToken: PRICE },
      escrow: r.escrow.address.toString(),
      keyEpoch: 1,
      network: NETWORK_ID.devnet,
      wrtc,
    });
    try {
      const payout = Address.parse((await text(provider, "wallet-address"))!);
      // Far more than the page trusts a stream with no reserve (a prompt's bound and a window at
      // its price): served all the same, the page claiming each time half of its trust is spent.
      for (const n of [2_000, 1_000]) {
        const done = await program.chat.completions.create({
          model: "test-model",
          messages: [{ role: "user", content: Array(n).fill("a").join(" ") }],
        });
        expect(done.choices[0]?.finish_reason).toBe("stop");
      }
      // The page claims on its own, with no Claim now, and its claim list says why in words.
      const record = provider
        .getByTestId("claim-record")
        .filter({ hasText: "it has used half of what its requester is trusted for without a reserve" });
      await record.first().waitFor({ timeout: 60_000 });
      expect(await record.first().textContent()).toMatch(
        /^\d{4}-\d\d-\d\d \d\d:\d\d: [\d.]+ TON, fee [\d.]+ TON \([\d.]+%\), because it has used half of what its requester is trusted for without a reserve\./,
      );
      // Each such claim paid on chain: what the list shows was claimed, the escrow paid.
      const listed = await record.allTextContents();
      const claimed = listed.reduce((sum, t) => sum + tonOf(t), 0n);
      await expect
        .poll(() => r.escrow.getPaid(1, payout), { timeout: 30_000 })
        .toBeGreaterThanOrEqual(claimed);
      expect(await seriousA11yViolations(provider)).toEqual([]);
    } finally {
      program.close();
    }
  }, 120_000);

  it("the client closes its escrow and, after the delay, withdraws the rest", async () => {
    const escrowAddress = Address.parse((await text(client, "escrow-address"))!);
    await client.getByRole("button", { name: "Close escrow" }).click();
    await client.getByRole("button", { name: "Yes, close the escrow" }).click();
    await client.getByTestId("closing").waitFor({ timeout: 30_000 });
    await screenshot(client, "client-devnet-closing");
    expect(await seriousA11yViolations(client)).toEqual([]);
    const withdraw = client.getByRole("button", { name: "Withdraw" });
    await expect.poll(() => withdraw.isEnabled(), { timeout: 20_000 }).toBe(true);
    await withdraw.click();
    await expect
      .poll(() => chain.getBalance(escrowAddress), { timeout: 30_000 })
      .toBe(EscrowParams.STORAGE_RESERVE);
  }, 90_000);

  it("the provider locks a stake in its entry, then leaves the Registry to withdraw it, each read back on chain", async () => {
    const owner = Address.parse((await text(provider, "wallet-address"))!);
    const entryAt = ProviderEntryContract.addressFor(
      devnet.chain.providerEntryCode,
      devnet.chain.registry,
      owner,
    );
    const entry = chain.open(ProviderEntryContract.createFromAddress(entryAt));
    expect((await entry.getStake()).stake).toBe(0n);
    expect(await text(provider, "stake-state")).toMatch(/^No stake locked/);
    await provider.getByLabel("Add stake, TON").fill("1.5");
    // While the wallet's message is on its way, the stake's buttons are off and say why.
    expect(await offReasonOnPress(provider, "Add stake")).toEqual({
      why: "The stake's buttons wait for the wallet's last step to end (Locking the stake).",
    });
    const staked = await waitForText(provider, "stake-result", (s) => s.length > 0, 60_000);
    expect(staked).toBe("Staked 1.5 TON: your entry now holds 1.5 TON.");
    expect((await entry.getEntry())?.stake).toBe(1_500_000_000n);
    expect(await text(provider, "stake-state")).toMatch(/^1\.5 TON staked/);
    expect(await seriousA11yViolations(provider)).toEqual([]);

    // Withdrawing asks first: it takes the provider out of the Registry; the stake unlocks later.
    // By keyboard the question is a dialog: the focus lands on its safe answer, so Enter keeps the
    // stake (the focus was left on the page), Escape keeps it too (it did nothing), and either way the
    // focus goes back to Withdraw stake….
    const ask = provider.getByRole("button", { name: "Withdraw stake…" });
    const keep = provider.getByRole("button", { name: "Keep my stake" });
    const focused = (l: typeof ask) => l.evaluate((el) => el === document.activeElement);
    for (const answer of ["Enter", "Escape"]) {
      await ask.focus();
      await provider.keyboard.press("Enter");
      await keep.waitFor();
      expect(await focused(keep), answer).toBe(true);
      await provider.keyboard.press(answer);
      await expect.poll(() => keep.count()).toBe(0);
      await expect.poll(() => focused(ask)).toBe(true);
      expect(await provider.getByRole("button", { name: "Leave the Registry" }).count()).toBe(0);
    }
    expect(await entry.getEntry()).toBeDefined();
    expect(await text(provider, "stake-state")).toMatch(/^1\.5 TON staked/);
    await provider.getByRole("button", { name: "Withdraw stake…" }).click();
    await provider.getByRole("button", { name: "Keep my stake" }).click();
    expect(await entry.getEntry()).toBeDefined();
    await provider.getByRole("button", { name: "Withdraw stake…" }).click();
    await provider.getByRole("button", { name: "Leave the Registry" }).click();
    const left = await waitForText(provider, "stake-result", (s) => s.startsWith("Left"), 60_000);
    expect(left).toMatch(
      /^Left the Registry: .* 1\.5 TON of stake unlocks in \d+ days \d+ h; withdraw it then\.$/,
    );
    expect(await entry.getEntry()).toBeUndefined();
    const locked = await entry.getStake();
    expect(locked.stake).toBe(1_500_000_000n);
    expect(locked.unlockAt).toBeGreaterThan(Date.now() / 1000);
    expect(await text(provider, "stake-state")).toMatch(/^1\.5 TON of stake unlocks in \d+ days/);
    expect(await provider.getByRole("button", { name: "Withdraw stake" }).isDisabled()).toBe(true);
    expect((await offReason(provider, "Withdraw stake")).why).toMatch(
      /^Withdraw is off until the stake unlocks in \d+ days \d+ h\.$/,
    );
    await screenshot(provider, "provider-devnet-stake-unlocking");
    expect(await seriousA11yViolations(provider)).toEqual([]);
  }, 120_000);
});

describe("a newcomer with a TON Connect wallet (tests/browser/tonconnect-double.ts) on the devnet", () => {
  it("connects it from TON Connect's picker, deposits through it, asks, and the provider is paid", async () => {
    // A server of the same devnet whose client pages pay through TON Connect, as on testnet.
    const { url: at } = await startChainServer(dir, 5, { devnet, wallet: "tonconnect" });
    const provider = await openPage(browser, `${at}/provider`, "provider");
    await serveFromProviderPage(provider, { price: PRICE, register: true });
    // On a phone, in dark mode, at first.
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, colorScheme: "dark" });
    const wallet = await installWalletDouble(context, at);
    const client = await context.newPage();
    // Nothing uncaught in the page, TON Connect's own promises included.
    const uncaught: string[] = [];
    client.on("pageerror", (e) => uncaught.push(e.message));
    await openReady(client, `${at}/`);
    expect((await text(client, "first-run"))?.replace(/\s+/g, " ")).toMatch(
      /connect a TON wallet under Wallet first/,
    );

    await client.getByRole("button", { name: "Open Wallet to connect" }).click();
    const connect = client.getByRole("button", { name: "Connect a TON wallet (devnet)" });
    await expect.poll(() => connect.isEnabled(), { timeout: 30_000 }).toBe(true);
    await connect.click();
    const picker = client.locator("[data-tc-wallets-modal-container]");
    // TON Connect's picker on a phone, by keyboard alone: Tab stays in it, each stop shows its focus,
    // named, on screen, unhidden; Escape closes it and the focus is back on the button that opened it.
    await client.getByRole("dialog", { name: "Connect a TON wallet" }).waitFor({ timeout: 30_000 });
    const walk = await keyboardWalk(client);
    expect(walk.problems).toEqual([]);
    expect(walk.stops).toEqual(expect.arrayContaining(["button “Close”", "button “What is a wallet?”"]));
    await screenshot(client, "tonconnect-picker-360-dark");
    await client.keyboard.press("Escape");
    await picker.waitFor({ state: "detached" });
    expect(await connect.evaluate((el) => el === document.activeElement)).toBe(true);
    // The double is a browser extension, which TON Connect lists on a computer's screen.
    await client.setViewportSize({ width: 1280, height: 800 });
    await connect.click();
    await picker.getByText(WALLET_DOUBLE_NAME).first().click({ timeout: 30_000 });
    await picker.waitFor({ state: "detached", timeout: 30_000 });
    await expect
      .poll(() => text(client, "wallet-address"), { timeout: 30_000 })
      .toBe(wallet.address.toRawString());

    // Deposit: one transaction, signed in the wallet, deploying the escrow with 5 TON.
    const before = await wallet.balance();
    await client.getByLabel("Amount, TON").fill("5");
    await client.getByRole("button", { name: "Deposit", exact: true }).click();
    await waitForText(client, "key-state", (s) => s.startsWith("authorised"), 60_000);
    const escrowAddress = Address.parse((await text(client, "escrow-address"))!);
    expect(wallet.requests).toHaveLength(1);
    const [sent] = wallet.requests[0]!.messages;
    expect(wallet.requests[0]!.network).toBe("-1000");
    expect(Address.parse(sent!.address).equals(escrowAddress)).toBe(true);
    expect(sent).toMatchObject({ amount: "5000000000", stateInit: expect.any(String) });
    expect(before - (await wallet.balance())).toBeGreaterThanOrEqual(5_000_000_000n);
    expect(tonOf(await text(client, "escrow-balance"))).toBe(await chain.getBalance(escrowAddress));
    expect(await seriousA11yViolations(client)).toEqual([]);

    // Declined in the wallet: the page says so in words, and nothing was sent.
    wallet.answer = "reject";
    await client.getByLabel("Amount, TON").fill("1");
    await client.getByRole("button", { name: "Top up", exact: true }).click();
    expect(await waitForText(client, "money-problem", (s) => s.length > 0)).toMatch(
      /you declined it in the wallet; nothing was sent/,
    );
    wallet.answer = "sign";

    // Ask, and the provider's claim pays exactly what the receipt says. The reserve it raises first
    // is signed by the session key: the wallet is asked nothing more.
    const asked = wallet.requests.length;
    await askAtPrice(client, "paid through TON Connect");
    expect(wallet.requests).toHaveLength(asked);
    expect(await client.getByTestId("turn-assistant").last().textContent()).toContain(
      "Echo: paid through TON Connect",
    );
    const signed = tonOf(await waitForText(client, "meter", (s) => tonOf(s) > 0n));
    const escrow = chain.open(Escrow.createFromAddress(escrowAddress));
    const payout = Address.parse((await text(provider, "wallet-address"))!);
    await waitForText(provider, "earned", (s) => tonOf(s) === signed);
    await provider.getByRole("button", { name: "Claim now" }).click();
    await waitForText(provider, "settled", (s) => tonOf(s) === signed);
    const epoch = (await escrow.getKey(await sessionKeyOf(client)))!.epoch;
    expect(await escrow.getPaid(epoch, payout)).toBe(signed);
    expect((await escrow.getReserve(epoch, payout)).reserved).toBeGreaterThan(signed);
    expect(uncaught).toEqual([]);
    await context.close();
  }, 180_000);
});
