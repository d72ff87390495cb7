import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { OverReportError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { flatPrice, NETWORK_ID, offerToWire } from "../../protocol";
import { endsWithin } from "../support/hang-guard";
import { pipedSession } from "../support/piped-session";
import { ESCROW, PAYOUT } from "../support/silk-parties";

/**
 * A provider that ignores `stop` (a lying one, or one whose engine drops the field): asked to stop
 * at "END", it streams the sequence and goes on, each piece a real token, and reports them all in
 * its `done`. An engine that honours `stop` ends the answer where the sequence would begin and never
 * streams it whole (WebLLM, llama.cpp's server, vLLM and OpenAI all leave it out). The requester
 * checked what a token can hold and `max_tokens`, never `stop`: it showed the caller the text past
 * the sequence and signed for every token of it. Now the answer fails OVER_REPORT at the piece that
 * completes a stop sequence (in one piece, or split across several), and nothing from it on is paid.
 */
const stream = {
  keyEpoch: 0,
  network: NETWORK_ID.devnet,
  escrow: Address.parse(ESCROW),
  payout: Address.parse(PAYOUT),
};

async function askPast(pieces: readonly string[], stop: string[]) {
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
        for (const [i, text] of pieces.entries())
          await provider.send({ v: 1, t: "tokens", id: m.id, text, count: 1, total: i + 1 });
        await provider.send({
          v: 1,
          t: "done",
          id: m.id,
          finish_reason: "stop",
          usage: { prompt_tokens: 5, completion_tokens: pieces.length },
        });
      })().catch(() => undefined);
    });
  }, account);
  const seen: string[] = [];
  const err = await endsWithin(
    requester
      .request({ model: "test-model", messages: [{ role: "user", content: "hi" }], stop }, (d) =>
        seen.push(d.text),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
    5_000,
  );
  // The session is dropped with the lie (closed by then), and kept after an honest answer.
  if (err) await requester.whenClosed();
  return { err, seen: seen.join(""), account };
}

describe("a provider that streams past a stop sequence", () => {
  it("fails the answer OVER_REPORT at the piece that completes it, paid for none from it on", async () => {
    const { err, seen, account } = await askPast(["one", " two", " END", " three", " four"], ["x", "END"]);
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toMatch(/stop sequence "END"/);
    expect(seen).toBe("one two");
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(2n);
  });

  it("finds one split across pieces", async () => {
    const { err, seen, account } = await askPast(["one E", "N", "D two", " three"], ["END"]);
    expect(err).toBeInstanceOf(OverReportError);
    expect(seen).toBe("one EN");
    await expect.poll(async () => (await account.last(stream))?.receipt.tokens).toBe(2n);
  });

  it("takes an answer that only comes near one: a prefix, or its letters apart", async () => {
    const { err, seen } = await askPast(["one E", "N", " D", " EN"], ["END"]);
    expect(err).toBeUndefined();
    expect(seen).toBe("one EN D EN");
  });
});
