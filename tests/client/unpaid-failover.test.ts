import { afterEach, describe, expect, it } from "vitest";
import { flatPrice } from "../../protocol";
import { type AccountGate, AccountRefusedError } from "../../provider/account-gate";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * UNPAID_TOKENS and FOREIGN_CLAIMS are about one provider's stream (tokens it streamed to this key
 * and was not paid for; its receipts claimed by someone else at its fee), not about the escrow: the SDK asks another provider rather than failing the request, as
 * it must for the escrow's own refusals (OUT_OF_FUNDS, …), which every provider would repeat.
 */
afterEach(async () => {
  stopAll();
  await cleanup();
});

describe("a provider that refuses a key for what happened on its own stream", () => {
  it.each([
    ["UNPAID_TOKENS", "an earlier session streamed 64 tokens past your last receipt"],
    ["FOREIGN_CLAIMS", "this provider's receipts on the escrow were claimed by someone else 2 times"],
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

describe("a provider that quotes more in its session than it offered through signaling", () => {
  it("is left for one that keeps its offer; nothing is sent to it", async () => {
    const { url } = await startServer();
    // Registered (and signed) at 5 nanoTON a token, so the server offers it first; then, as a
    // hostile provider may, it quotes 90 (still under the requester's highest, 100) in the session.
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
