import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { OverReportError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { flatPrice, NETWORK_ID, offerToWire } from "../../protocol";
import { endsWithin } from "../support/hang-guard";
import { pipedSession } from "../support/piped-session";
import { ESCROW, PAYOUT } from "../support/silk-parties";

/**
 * A lying provider that ignores `max_tokens`: asked for at most 3 tokens, it streams 8 (each a real
 * byte of text, so the bytes bound holds) and reports them in its `done`. The requester signed for
 * all 8: it checked what a token can hold, never how many it had asked for, so it paid for tokens
 * it had refused in advance. Now the answer fails OVER_REPORT at the first token past the cap, and
 * only the tokens within it are signed for.
 */
const stream = {
  keyEpoch: 0,
  network: NETWORK_ID.devnet,
  escrow: Address.parse(ESCROW),
  payout: Address.parse(PAYOUT),
};

describe("a provider that streams past max_tokens", () => {
  it("fails the answer OVER_REPORT and is paid for no token past the cap", async () => {
    const account = new MemoryPaymentAccount();
    const { requester } = await pipedSession((provider) => {
      provider.onMessage((m) => {
        if (m.t === "receipt" && m.receipt && !m.quote)
          void provider.send({
            v: 1,
            t: "account",
            accepted: true,
            prices: [offerToWire({ model: "test-model", price: flatPrice(1n) })],
          });
        if (m.t !== "request") return;
        void (async () => {
          for (let i = 1; i <= 8; i++)
            await provider.send({ v: 1, t: "tokens", id: m.id, text: "x", count: 1, total: i });
          await provider.send({
            v: 1,
            t: "done",
            id: m.id,
            finish_reason: "length",
            usage: { prompt_tokens: 5, completion_tokens: 8 },
          });
        })().catch(() => undefined);
      });
    }, account);
    const seen: string[] = [];
    const err = await endsWithin(
      requester
        .request({ model: "test-model", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }, (d) =>
          seen.push(d.text),
        )
        .catch((e: unknown) => e),
      5_000,
    );
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toMatch(/max_tokens 3/);
    expect(seen.join("")).toBe("xxx");
    await requester.whenClosed();
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(3n);
  });
});
