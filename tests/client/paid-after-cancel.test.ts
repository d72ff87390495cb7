import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { OverReportError, ProviderLostError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import {
  costOf,
  decodeSignedReceipt,
  flatPrice,
  NETWORK_ID,
  offerToWire,
  type SecureSession,
  TOKENS_AFTER_CANCEL,
} from "../../protocol";
import { pipedSession } from "../support/piped-session";
import { ESCROW, PAYOUT } from "../support/silk-parties";

/**
 * A hostile provider that ignores `cancel` and streams on: the requester pays for what it had
 * when it cancelled and the few tokens already on their way (TOKENS_AFTER_CANCEL), never for the
 * rest of the answer, and drops the provider (OVER_REPORT).
 */
const PRICE = flatPrice(100n);

function streamingProvider(provider: SecureSession, opts: { afterCancel: number; vanishAfter?: number }) {
  const receipts: bigint[] = [];
  let cancelled = false;
  provider.onMessage((m) => {
    if (m.t === "receipt") {
      const r = decodeSignedReceipt(m.receipt).receipt;
      receipts.push(r.tokens);
      if (receipts.length === 1)
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price: PRICE })],
        });
    }
    if (m.t === "cancel") cancelled = true;
    if (m.t === "request") {
      const id = m.id;
      void (async () => {
        let total = 0;
        let after = 0;
        while (provider.isOpen && (!cancelled || after < opts.afterCancel)) {
          if (cancelled) after++;
          if (total === opts.vanishAfter) return provider.close();
          total++;
          await provider.send({ v: 1, t: "tokens", id, text: "w ", count: 1, total }).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 1));
        }
        if (provider.isOpen)
          await provider.send({
            v: 1,
            t: "done",
            id,
            finish_reason: "abort",
            usage: { prompt_tokens: 0, completion_tokens: total },
          });
      })();
    }
  });
  return receipts;
}

describe("tokens a provider streams after the requester cancelled", () => {
  it("a provider that ignores cancel: paid up to the grace past the cancel, never the rest", async () => {
    let receipts: bigint[] = [];
    const { requester } = await pipedSession((provider) => {
      receipts = streamingProvider(provider, { afterCancel: 500 });
    });
    const abort = new AbortController();
    let seen = 0;
    const answer = requester
      .request(
        { model: "test-model", messages: [{ role: "user", content: "go on" }] },
        () => {
          if (++seen === 10) abort.abort();
        },
        abort.signal,
      )
      .catch((e: unknown) => e);
    const err = await answer;
    expect(err).toBeInstanceOf(OverReportError);
    expect((err as Error).message).toContain("cancel");
    expect(seen).toBeLessThanOrEqual(10 + TOKENS_AFTER_CANCEL);
    await new Promise((r) => setTimeout(r, 20));
    expect(requester.isOpen).toBe(false);
    const paid = receipts.at(-1) ?? 0n; // cumulative: the last is the most
    expect(paid).toBeGreaterThanOrEqual(10n);
    expect(paid).toBeLessThanOrEqual(BigInt(10 + TOKENS_AFTER_CANCEL));
  });

  it("a provider that stops within the grace: the answer ends as abort and every token is paid", async () => {
    let receipts: bigint[] = [];
    const { requester } = await pipedSession((provider) => {
      receipts = streamingProvider(provider, { afterCancel: 3 });
    });
    const abort = new AbortController();
    let seen = 0;
    const result = await requester.request(
      { model: "test-model", messages: [{ role: "user", content: "go on" }] },
      () => {
        if (++seen === 10) abort.abort();
      },
      abort.signal,
    );
    expect(result.finishReason).toBe("abort");
    expect(result.completionTokens).toBe(seen);
    expect(result.cost).toBe(costOf({ promptTokens: 0, completionTokens: seen }, PRICE));
    expect(requester.isOpen).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(receipts.at(-1)).toBe(BigInt(seen));
    requester.close();
  });
});

describe("a provider that vanishes mid-answer", () => {
  it("the requester's last receipt covers every token it got: the next session's base pays them", async () => {
    const account = new MemoryPaymentAccount();
    let receipts: bigint[] = [];
    const { requester } = await pipedSession((provider) => {
      // Fewer tokens than the SDK signs for at a time (16): no receipt was sent before it went.
      receipts = streamingProvider(provider, { afterCancel: 0, vanishAfter: 11 });
    }, account);
    const err = await requester
      .request({ model: "test-model", messages: [{ role: "user", content: "go on" }] }, () => undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderLostError);
    expect((err as ProviderLostError).tokens).toBe(11);
    await new Promise((r) => setTimeout(r, 20));
    expect(receipts).toEqual([0n]); // the provider holds the base receipt only
    const last = await account.last({
      network: NETWORK_ID.devnet,
      escrow: Address.parse(ESCROW),
      payout: Address.parse(PAYOUT),
      keyEpoch: 0,
    });
    expect(last?.receipt.tokens).toBe(11n);
    expect(last?.receipt.amount).toBe((err as ProviderLostError).cost);
  });
});
