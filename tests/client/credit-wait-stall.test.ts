import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { StalledError, UnderReportError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { RequesterSession } from "../../client/sdk/requester-session";
import { flatPrice, NETWORK_ID, offerToWire } from "../../protocol";
import { endsWithin } from "../support/hang-guard";
import { securePair } from "../support/piped-session";
import { ESCROW, MAX_PRICE, PAYOUT } from "../support/silk-parties";

/**
 * A lying provider that answers with `credit-wait` and nothing else, over and over, though every
 * token it sent is signed for: each one reset the requester's frame deadline, so the request waited
 * for ever (a `progress` is believed only for `deadlines.progress` after the last token; a
 * `credit-wait` was believed without end). An embeddings request believed every `progress` or
 * `credit-wait` without end too, and so did a chat answer every `tokens` message carrying no token
 * (count 0, no text), or carrying only text it counted no token for (count 0, text " ").
 * Now each is believed as long as `progress` after the last piece, then STALLED; and text counted
 * as no token is not believed at all: a token carries its text, so that is a lie (UNDER_REPORT),
 * named at the first such piece rather than after `progress` (5 minutes by default).
 */
const stream = {
  keyEpoch: 0,
  network: NETWORK_ID.devnet,
  escrow: Address.parse(ESCROW),
  payout: Address.parse(PAYOUT),
};

async function liar(says: "credit-wait" | "progress" | "empty tokens" | "blank tokens", tokensFirst: number) {
  const { sessionKey, requesterSide, providerSide } = await securePair("stall-liar");
  const timers: NodeJS.Timeout[] = [];
  providerSide.onMessage((m) => {
    if (m.t === "receipt" && m.receipt && !m.quote && timers.length === 0)
      void providerSide.send({
        v: 1,
        t: "account",
        accepted: true,
        prices: [offerToWire({ model: "test-model", price: flatPrice(1n) })],
      });
    if (m.t !== "request" && m.t !== "embed") return;
    if (tokensFirst > 0)
      void providerSide.send({
        v: 1,
        t: "tokens",
        id: m.id,
        text: "abc",
        count: tokensFirst,
        total: tokensFirst,
      });
    const say = () =>
      void providerSide
        .send(
          says === "empty tokens" || says === "blank tokens"
            ? {
                v: 1,
                t: "tokens",
                id: m.id,
                text: says === "blank tokens" ? " " : "",
                count: 0,
                total: tokensFirst,
              }
            : { v: 1, t: says, id: m.id },
        )
        .catch(() => undefined);
    timers.push(setInterval(say, 100));
  });
  const account = new MemoryPaymentAccount();
  const requester = await RequesterSession.open(requesterSide, {
    ...stream,
    sessionKey,
    maxPrice: MAX_PRICE,
    account,
    deadlines: { frame: 400, progress: 1_500 },
  });
  const stop = () => {
    for (const t of timers) clearInterval(t);
    requester.close();
  };
  return { requester, account, stop };
}

describe("a provider that only ever says it is waiting or working", () => {
  const messages = [{ role: "user" as const, content: "hi" }];
  for (const says of ["credit-wait", "empty tokens"] as const)
    for (const tokensFirst of [0, 3])
      it(`${says} on a chat answer: STALLED once \`progress\` runs out (${tokensFirst} tokens first), paid for what came`, async () => {
        const { requester, account, stop } = await liar(says, tokensFirst);
        try {
          const started = Date.now();
          const err = await endsWithin(
            requester.request({ model: "test-model", messages }, () => undefined).catch((e: unknown) => e),
            8_000,
          );
          expect(err).toBeInstanceOf(StalledError);
          expect((err as StalledError).tokens).toBe(tokensFirst);
          // Believed for `progress` (1.5 s), then at most one frame deadline more.
          expect(Date.now() - started).toBeLessThan(4_000);
          await expect
            .poll(async () => (await account.last(stream))?.receipt.tokens ?? 0n)
            .toBe(BigInt(tokensFirst));
        } finally {
          stop();
        }
      }, 15_000);

  for (const tokensFirst of [0, 3])
    it(`text counted as no token on a chat answer: UNDER_REPORT at the first such piece (${tokensFirst} tokens first), paid for what came`, async () => {
      const { requester, account, stop } = await liar("blank tokens", tokensFirst);
      try {
        const started = Date.now();
        const err = await endsWithin(
          requester.request({ model: "test-model", messages }, () => undefined).catch((e: unknown) => e),
          8_000,
        );
        expect(err).toBeInstanceOf(UnderReportError);
        expect((err as UnderReportError).code).toBe("UNDER_REPORT");
        expect((err as Error).message).toBe(
          "provider streamed 1 bytes of answer counted as 0 tokens (a piece of text is at least one)",
        );
        // The first piece comes 100 ms in: refused then, not once `progress` (1.5 s) runs out.
        expect(Date.now() - started).toBeLessThan(1_200);
        expect(requester.isOpen).toBe(false);
        await expect
          .poll(async () => (await account.last(stream))?.receipt.tokens ?? 0n)
          .toBe(BigInt(tokensFirst));
      } finally {
        stop();
      }
    }, 15_000);

  for (const says of ["progress", "credit-wait"] as const)
    it(`${says} on an embeddings request: STALLED once \`progress\` runs out`, async () => {
      const { requester, stop } = await liar(says, 0);
      try {
        const started = Date.now();
        const err = await endsWithin(
          requester.embed({ model: "test-model", input: ["hi"] }).catch((e: unknown) => e),
          8_000,
        );
        expect(err).toBeInstanceOf(StalledError);
        expect(Date.now() - started).toBeLessThan(4_000);
      } finally {
        stop();
      }
    }, 15_000);
});
