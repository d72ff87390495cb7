import { Address } from "@ton/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flatPrice, NETWORK_ID } from "../../protocol";
import { type AccountGate, AccountRefusedError } from "../../provider/account-gate";
import { EscrowBook } from "../../provider/escrow-book";
import { ReceiptAccount } from "../../provider/serving/receipt-account";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, ESCROW, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * UNPAID_TOKENS and FOREIGN_CLAIMS are about one provider's stream (tokens it streamed to this key
 * and was not paid for; its receipts claimed by someone else at its fee), not about the escrow: the SDK asks another provider rather than failing the request, as
 * it must for the escrow's own refusals (OUT_OF_FUNDS, …), which every provider would repeat.
 */
afterEach(async () => {
  vi.restoreAllMocks();
  stopAll();
  await cleanup();
});

describe("a provider that refuses a key for what happened on its own stream", () => {
  it.each([
    ["UNPAID_TOKENS", "an earlier session streamed 64 tokens past your last receipt"],
    ["FOREIGN_CLAIMS", "this provider's receipts on the escrow were claimed by someone else 2 times"],
    // Its own rule (--min-close-delay), not the escrow's fault: it ended the request, though a
    // provider content with the escrow's close delay was there.
    [
      "ESCROW_CLOSE_DELAY",
      "the escrow's close delay is 3600 s; this provider needs at least 86400 s to claim",
    ],
    // Its build's Escrow code (a provider on another Silk version): the requester's escrow runs
    // this build's code, so a provider on the same build serves; it ended the request.
    ["ESCROW_CODE", "the account named as the escrow does not run Silk's Escrow code"],
  ] as const)(
    "%s: the request goes to another provider",
    async (code, message) => {
      const { url } = await startServer();
      let refusals = 0;
      const refusing: AccountGate = {
        check: async () => {
          refusals++;
          throw new AccountRefusedError(code, message);
        },
      };
      // The cheaper one, so the server offers it first.
      await relayProvider(url, {
        gate: refusing,
        models: [{ model: "test-model", price: flatPrice(5n) }],
        payout: `0:${"33".repeat(32)}`,
      });
      await relayProvider(url);
      const client = await relayClient(url);
      const answer = await ask(client, "anyone else");
      expect(answer.choices[0]?.message.content).toBe("Echo: anyone else");
      expect(refusals).toBe(1);
    },
    30_000,
  );
});

describe("a provider that does not recognise the escrow's code, and nobody else", () => {
  it("ESCROW_CODE is the answer, naming that provider, in Silk's words", async () => {
    const { url } = await startServer();
    const gate: AccountGate = {
      check: async () => {
        throw new AccountRefusedError("ESCROW_CODE", "your escrow is fake: deposit again at evil.example");
      },
    };
    const alone = await relayProvider(url, { gate });
    const client = await relayClient(url);
    const err = await ask(client, "anyone").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "ESCROW_CODE" });
    const message = (err as Error).message;
    expect(message).toBe(
      `the provider ${alone.key} does not recognise the escrow's code as Silk's Escrow (it may run another version of Silk); it is excluded for this request`,
    );
    expect(message).not.toContain("evil.example");
  }, 30_000);
});

describe("an open session's provider that then refuses the escrow for its own stream", () => {
  it("FOREIGN_CLAIMS at the next request: it goes to another provider; with none, FOREIGN_CLAIMS is the answer", async () => {
    const { url } = await startServer();
    // The provider's view of the escrow (a test's, not the chain's): funded, then claimed by others.
    const escrow = Address.parse(ESCROW);
    const book = new EscrowBook();
    book.update(escrow, { codeHash: "", balance: 10n ** 12n, state: undefined });
    const griefed = await relayProvider(url, {
      book,
      models: [{ model: "test-model", price: flatPrice(5n) }],
      payout: `0:${"33".repeat(32)}`,
    });
    const other = await relayProvider(url);
    const client = await relayClient(url);
    expect((await ask(client, "first")).choices[0]?.message.content).toBe("Echo: first");
    expect(griefed.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    // Someone else claims receipts on the escrow in small amounts, twice (escrow-book.ts).
    const elsewhere = {
      network: NETWORK_ID.devnet,
      escrow,
      payout: Address.parse(`0:${"44".repeat(32)}`),
      keyEpoch: 0,
    };
    for (const paid of [1_000_000n, 2_000_000n, 3_000_000n]) book.paidRead(elsewhere, paid);
    expect((await ask(client, "second")).choices[0]?.message.content).toBe("Echo: second");
    expect(other.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    // Nobody else: the refusal is the answer (the gateway's 403 foreign_claims), not "no such model".
    other.runtime.stop();
    await expect(ask(client, "third")).rejects.toMatchObject({ code: "FOREIGN_CLAIMS" });
    expect(griefed.events.filter((e) => e.type === "request-done")).toHaveLength(1);
  }, 30_000);
});

describe("a provider that quotes more in its session than it offered through signaling", () => {
  it("is left for one that keeps its offer; nothing is sent to it", async () => {
    const { url } = await startServer();
    // Registered (and signed) at 5 nanoTON a token, so the server offers it first; then, as a
    // hostile provider may, it quotes 90 (still under the requester's highest, 100) in the session,
    // running code that ignores the quote the requester shows it (Silk's honours it, honoured-quote.ts).
    vi.spyOn(ReceiptAccount.prototype, "priceOf").mockImplementation((m) => m.price);
    const models = [{ model: "test-model", price: flatPrice(5n) }];
    const baiting = await relayProvider(url, { models, payout: `0:${"33".repeat(32)}` });
    models[0] = { model: "test-model", price: flatPrice(90n) };
    await relayProvider(url);
    const client = await relayClient(url);
    const answer = await ask(client, "fair price");
    expect(answer.choices[0]?.message.content).toBe("Echo: fair price");
    expect(baiting.engine.generatedTokens).toBe(0);
    // Charged at the honest provider's 10, never the 90.
    expect(answer.usage?.total_tokens).toBeGreaterThan(0);
  }, 30_000);
});
