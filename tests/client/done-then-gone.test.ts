import { describe, expect, it } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import {
  flatPrice,
  offerToWire,
  type SecureSession,
  type SignedReceipt,
  vectorToBase64,
} from "../../protocol";
import { pipedSession } from "../support/piped-session";

/**
 * A provider that sends an answer's `done` and leaves at once (its tab closed, its operator
 * stopped serving): the answer arrived whole and checked, so the request gets it, and its receipt
 * is kept for the stream's next session. The close used to land while the requester was still
 * signing for the answer, and read as the provider lost mid-answer: PROVIDER_LOST, and a failover
 * asked (and paid) another provider for an answer already here. So for embeddings.
 */
class SlowAccount extends MemoryPaymentAccount {
  override async save(receipt: SignedReceipt): Promise<void> {
    await new Promise((r) => setTimeout(r, 200));
    return super.save(receipt);
  }
}

const input = { model: "test-model", messages: [{ role: "user" as const, content: "hi" }] };

describe("done, then the provider gone", () => {
  it("a chat answer is the request's; its receipt is kept", async () => {
    const account = new SlowAccount();
    const { requester } = await pipedSession(
      goneAfterDone(async (provider, id) => {
        await provider.send({ v: 1, t: "tokens", id, text: "all here", count: 2, total: 2 });
        await provider.send({ ...DONE, id, usage: { prompt_tokens: 3, completion_tokens: 2 } });
      }),
      account,
    );
    const answer = await requester.request(input, () => undefined);
    expect(answer).toMatchObject({ text: "all here", finishReason: "stop", completionTokens: 2 });
    expect(keptTokens(account)).toEqual([5n]);
  });

  it("embeddings are the call's; their receipt is kept", async () => {
    const account = new SlowAccount();
    const { requester } = await pipedSession(
      goneAfterDone(
        async (provider, id) => {
          const vector = vectorToBase64([0.5, 0.25]);
          await provider.send({ v: 1, t: "embedding", id, index: 0, vector });
          await provider.send({ ...DONE, id, usage: { prompt_tokens: 2, completion_tokens: 0 } });
        },
        ["embeddings"],
      ),
      account,
    );
    const r = await requester.embed({ model: "test-model", input: ["hi"] });
    expect(r.vectors).toHaveLength(1);
    expect(keptTokens(account)).toEqual([2n]);
  });
});

const DONE = { v: 1, t: "done", finish_reason: "stop" } as const;

/** A provider that answers the account, then each request or embed with `answer`, then leaves. */
function goneAfterDone(
  answer: (provider: SecureSession, id: string) => Promise<void>,
  features: "embeddings"[] = [],
) {
  return (provider: SecureSession) =>
    provider.onMessage((m) => {
      if (m.t === "receipt" && provider.isOpen)
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price: flatPrice(1n), features })],
        });
      if (m.t !== "request" && m.t !== "embed") return;
      void answer(provider, m.id).then(() => {
        // Once `done` is through (the pipe drops what is in flight at a close), while the
        // requester still saves the answer's receipt (200 ms).
        setTimeout(() => provider.close(), 50);
      });
    });
}

const keptTokens = (account: MemoryPaymentAccount) =>
  [...(account as unknown as { streams: Map<string, SignedReceipt> }).streams.values()].map(
    (r) => r.receipt.tokens,
  );
