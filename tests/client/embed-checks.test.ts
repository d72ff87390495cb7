import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { RequesterSession } from "../../client/sdk/requester-session";
import {
  decodeSignedReceipt,
  flatPrice,
  maxEmbedTokens,
  NETWORK_ID,
  offerToWire,
  type SecureSession,
  type SessionMessage,
  vectorToBase64,
} from "../../protocol";
import { securePair } from "../support/piped-session";

/**
 * The requester's checks on an embeddings answer, against a provider that lies (the real serving
 * loop is tested end to end in gateway-embeddings.test.ts): it never signs for more input tokens
 * than the inputs' bytes allow, and it refuses an answer with a vector missing, twice, of another
 * length, or not of the `dimensions` asked, signing nothing for it.
 */
const PRICE = flatPrice(3n);
const PAYOUT = new Address(0, Buffer.alloc(32, 2));

type Answer = (m: Extract<SessionMessage, { t: "embed" }>, send: SecureSession["send"]) => Promise<void>;

/** A requester session with a provider that answers the account, then embeddings with `answer`. */
async function lyingProvider(answer: Answer) {
  const { sessionKey, requesterSide, providerSide } = await securePair("e");
  const signed: bigint[] = [];
  providerSide.onMessage((m) => {
    if (m.t === "receipt") {
      const amount = decodeSignedReceipt(m.receipt).receipt.amount;
      if (signed.length === 0)
        void providerSide.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "embedder", price: PRICE, features: ["embeddings"] })],
        });
      signed.push(amount);
    }
    if (m.t === "embed") void answer(m, (x) => providerSide.send(x));
  });
  const session = await RequesterSession.open(requesterSide, {
    sessionKey,
    keyEpoch: 1,
    network: NETWORK_ID.devnet,
    escrow: new Address(0, Buffer.alloc(32, 1)),
    payout: PAYOUT,
    maxPrice: { promptNanoPerToken: 3n, completionNanoPerToken: 3n },
    account: new MemoryPaymentAccount(),
  });
  return { session, signed };
}

const vector = (n: number) => vectorToBase64(Array.from({ length: n }, (_, i) => i / n));
const done = (id: string, prompt: number) =>
  ({
    v: 1,
    t: "done",
    id,
    finish_reason: "stop",
    usage: { prompt_tokens: prompt, completion_tokens: 0 },
  }) as const;

describe("the requester checks what it is sent for embeddings", () => {
  it("signs for at most the inputs' bound, whatever the provider reports", async () => {
    const { session, signed } = await lyingProvider(async (m, send) => {
      for (const index of m.input.keys())
        await send({ v: 1, t: "embedding", id: m.id, index, vector: vector(4) });
      await send(done(m.id, 1_000_000));
    });
    const r = await session.embed({ model: "embedder", input: ["ab", "cd"] });
    expect(r.vectors).toHaveLength(2);
    expect(r.promptTokens).toBe(maxEmbedTokens(["ab", "cd"]));
    const bound = BigInt(maxEmbedTokens(["ab", "cd"])) * 3n;
    for (let i = 0; i < 200 && signed.at(-1) !== bound; i++) await new Promise((r) => setTimeout(r, 5));
    expect(signed.at(-1)).toBe(bound);
  });

  const refusals: [string, Answer][] = [
    [
      "a vector missing",
      async (m, send) => {
        await send({ v: 1, t: "embedding", id: m.id, index: 0, vector: vector(4) });
        await send(done(m.id, 4));
      },
    ],
    [
      "a vector twice",
      async (m, send) => {
        await send({ v: 1, t: "embedding", id: m.id, index: 0, vector: vector(4) });
        await send({ v: 1, t: "embedding", id: m.id, index: 0, vector: vector(4) });
      },
    ],
    [
      "vectors of two lengths",
      async (m, send) => {
        await send({ v: 1, t: "embedding", id: m.id, index: 0, vector: vector(4) });
        await send({ v: 1, t: "embedding", id: m.id, index: 1, vector: vector(5) });
      },
    ],
    [
      "a vector for an input never sent",
      async (m, send) => {
        await send({ v: 1, t: "embedding", id: m.id, index: 7, vector: vector(4) });
      },
    ],
  ];
  it.each(refusals)("refuses %s and signs nothing for it", async (_name, answer) => {
    const { session, signed } = await lyingProvider(answer);
    const before = signed.length;
    await expect(session.embed({ model: "embedder", input: ["ab", "cd"] })).rejects.toMatchObject({
      code: "UNEXPECTED",
    });
    expect(signed.length).toBe(before);
    expect(session.isOpen).toBe(false);
  });

  it("refuses vectors not of the dimensions asked", async () => {
    const { session } = await lyingProvider(async (m, send) => {
      await send({ v: 1, t: "embedding", id: m.id, index: 0, vector: vector(8) });
      await send(done(m.id, 4));
    });
    await expect(session.embed({ model: "embedder", input: ["ab"], dimensions: 4 })).rejects.toThrow(
      /8 dimensions, not 4/,
    );
  });
});
