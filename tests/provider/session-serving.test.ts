import { Address } from "@ton/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { OverReportError, ProviderError, UnreadableMessageError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { RequesterSession } from "../../client/sdk/requester-session";
import type { WebRtcLink } from "../../peer/webrtc-link";
import {
  acceptSession,
  costOf,
  encodeSignedReceipt,
  type FrameTransport,
  generateKeyPair,
  initiateSession,
  type KeyPair,
  MAX_RECEIPT_TOKENS,
  type ModelPrice,
  type ModelSupport,
  maxPromptTokens,
  memoryPipe,
  NETWORK_ID,
  type Receipt,
  type SessionMessage,
  type SessionMessageInput,
  signReceipt,
} from "../../protocol";
import { MemoryReceiptStore } from "../../provider/receipt-store";
import { type HeldReceipts, heldIn } from "../../provider/serving/held-receipts";
import { type ServingEvent, SessionServer } from "../../provider/serving/session-server";
import { Slots } from "../../provider/serving/slots";
import type { Engine } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { webrtcPair } from "../support/webrtc-pair";

const ESCROW = Address.parse(`0:${"11".repeat(32)}`);
const PAYOUT = Address.parse(`0:${"22".repeat(32)}`);
const PRICE: ModelPrice = { nanoPerToken: 1000n, promptMultiplierBps: 5000, completionMultiplierBps: 10000 };
const STREAM = { network: NETWORK_ID.devnet, escrow: ESCROW, payout: PAYOUT, keyEpoch: 0 };
const MAX = { promptNanoPerToken: 1000n, completionNanoPerToken: 1000n };

interface Setup {
  engine?: Engine;
  creditWindowTokens?: number;
  capacity?: number;
  maxWaiting?: number;
  held?: HeldReceipts;
  sessionKey?: KeyPair;
  support?: ModelSupport;
}

type Link = {
  transports: [FrameTransport, FrameTransport];
  fingerprints: { requester: string; provider: string };
};

const links: WebRtcLink[] = [];
afterEach(() => {
  for (const l of links.splice(0)) l.close();
});

/** The same serving tests run over an in-memory pipe and over a real WebRTC data channel. */
const TRANSPORTS: Record<string, () => Promise<Link>> = {
  "in-memory pipe": async () => ({
    transports: memoryPipe(),
    fingerprints: { requester: "x", provider: "y" },
  }),
  "WebRTC (wrtc)": async () => {
    const { requester, provider } = await webrtcPair();
    links.push(requester, provider);
    return { transports: [requester, provider], fingerprints: requester.fingerprints() };
  },
};

let makeLink = TRANSPORTS["in-memory pipe"]!;

async function connect(s: Setup = {}) {
  const identity = generateKeyPair();
  const sessionKey = s.sessionKey ?? generateKeyPair();
  const engine = s.engine ?? new ScriptedEngine();
  const held = s.held ?? heldIn(new MemoryReceiptStore());
  const events: ServingEvent[] = [];
  const link = await makeLink();
  const [a, b] = link.transports;
  const p = {
    sessionId: "t",
    requesterFingerprint: link.fingerprints.requester,
    providerFingerprint: link.fingerprints.provider,
  };
  const [requesterSide, providerSide] = await Promise.all([
    initiateSession(a, { ...p, providerIdentity: identity.publicKey, sessionKey }),
    acceptSession(b, { ...p, identity }),
  ]);
  new SessionServer(providerSide, {
    engine,
    models: [{ model: "test-model", price: PRICE, ...s.support }],
    network: NETWORK_ID.devnet,
    payout: PAYOUT,
    receipts: held,
    slots: new Slots(s.capacity ?? 2, s.maxWaiting ?? 4),
    creditWindowTokens: s.creditWindowTokens ?? 8,
    onEvent: (e) => events.push(e),
  });
  return { requesterSide, providerSide, sessionKey, held, events, engine };
}

function options(sessionKey: KeyPair, account = new MemoryPaymentAccount()) {
  return {
    sessionKey,
    keyEpoch: 0,
    network: NETWORK_ID.devnet,
    escrow: ESCROW,
    payout: PAYOUT,
    maxPrice: MAX,
    account,
    receiptEvery: 4,
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ask = (content: string) => ({ model: "test-model", messages: [{ role: "user" as const, content }] });

describe.each(Object.keys(TRANSPORTS))(
  "a request through an encrypted session to the serving loop, over %s",
  (transport) => {
    beforeEach(() => {
      makeLink = TRANSPORTS[transport]!;
    });
    it("streams the answer with usage, and the provider ends holding a receipt for exactly its cost", async () => {
      const { requesterSide, sessionKey, held } = await connect();
      const account = new MemoryPaymentAccount();
      const requester = await RequesterSession.open(requesterSide, options(sessionKey, account));
      const chunks: string[] = [];
      const result = await requester.request(ask("one two three four five six"), (d) => chunks.push(d.text));
      expect(result.text).toBe("Echo: one two three four five six");
      expect(chunks.join("")).toBe(result.text);
      expect(result.completionTokens).toBe(7);
      expect(result.finishReason).toBe("stop");
      expect(result.promptTokens).toBeLessThanOrEqual(maxPromptTokens(ask("")) + 30);
      expect(result.cost).toBe(costOf({ promptTokens: result.promptTokens, completionTokens: 7 }, PRICE));

      await until(async () => (await held.best(STREAM))?.receipt.amount === result.cost);
      const best = await held.best(STREAM);
      expect(best?.receipt.amount).toBe(result.cost);
      expect(best?.receipt.tokens).toBe(BigInt(result.promptTokens + 7));
      expect((await account.last(STREAM))?.receipt.amount).toBe(result.cost);

      // A second answer adds to the same cumulative receipt.
      const second = await requester.request(ask("again"), () => undefined);
      await until(async () => (await held.best(STREAM))?.receipt.amount === result.cost + second.cost);
      expect((await held.best(STREAM))?.receipt.amount).toBe(result.cost + second.cost);
    });

    it("refuses a request frame carrying a field it does not know, naming the field (UNKNOWN_FIELD)", async () => {
      const { requesterSide, sessionKey } = await connect();
      const replies: SessionMessage[] = [];
      requesterSide.onMessage((m) => replies.push(m));
      const base = signReceipt({ ...STREAM, tokens: 0n, amount: 0n }, sessionKey);
      await requesterSide.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(base) });
      // A third party speaking the wire protocol, or a newer SDK: a field this provider does not know.
      const frames = [
        { id: "top", extra: { future_field: 1 }, path: "future_field" },
        {
          id: "deep",
          messages: [{ role: "user", content: "hi", audio: { id: "a" } }],
          path: "messages.0.audio",
        },
      ];
      for (const f of frames)
        await requesterSide.send({
          v: 1,
          t: "request",
          id: f.id,
          ...ask("hi"),
          ...(f.messages && { messages: f.messages }),
          ...f.extra,
        } as SessionMessageInput);
      await until(() => replies.filter((m) => m.t === "error").length === 2);
      for (const f of frames) {
        const refusal = replies.find((m) => m.t === "error" && m.id === f.id);
        expect(refusal).toMatchObject({ error: { code: "UNKNOWN_FIELD", param: f.path } });
        expect(refusal?.t === "error" && refusal.error.message).toContain(f.path);
      }
      expect(replies.some((m) => m.t === "tokens")).toBe(false);
    });

    it("the SDK fails a request the provider refused for an unknown field with that field as param, a 400 at the gateway", async () => {
      const { requesterSide, sessionKey } = await connect();
      // A newer SDK, same code: its requests carry one field this provider does not know (added to
      // the request as sent, which is what the SDK checks the provider's `param` against).
      const send = requesterSide.send.bind(requesterSide);
      requesterSide.send = (m) =>
        send(m.t === "request" ? (Object.assign(m, { future_field: 1 }) as SessionMessageInput) : m);
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const err = await requester.request(ask("hi"), () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({
        code: "UNKNOWN_FIELD",
        param: "future_field",
        message: "the provider does not know a field of the request (future_field)",
      });
      expect(toHttpError(err).body().error).toMatchObject({
        param: "future_field",
        code: "unknown_parameter",
      });
      expect(toHttpError(err).status).toBe(400);
      // The session goes on: the next request (no unknown field) is answered.
      requesterSide.send = send;
      expect((await requester.request(ask("again"), () => undefined)).finishReason).toBe("stop");
    });

    it("a provider's message the schema refuses (a done whose usage is no number) fails the request at once as UnreadableMessageError and ends the session, whose counts may now differ", async () => {
      const { requesterSide, providerSide, sessionKey } = await connect();
      // A provider out of step with the schema: its `done` carries a count that is no number.
      const send = providerSide.send.bind(providerSide);
      providerSide.send = (m) =>
        send(
          m.t === "done"
            ? ({ ...m, usage: { ...m.usage, completion_tokens: "seven" } } as unknown as SessionMessageInput)
            : m,
        );
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const err = await requester.request(ask("hi"), () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreadableMessageError);
      expect(err).toMatchObject({
        code: "UNEXPECTED",
        message:
          "the provider sent a message this version cannot read (type done, invalid at usage.completion_tokens)",
      });
      expect(toHttpError(err).status).toBe(502);
      expect(requester.isOpen).toBe(false);
    });

    it("honours max_tokens and stop", async () => {
      const { requesterSide, sessionKey } = await connect();
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const limited = await requester.request({ ...ask("a b c d e f"), max_tokens: 3 }, () => undefined);
      expect(limited.finishReason).toBe("length");
      expect(limited.completionTokens).toBe(3);
      const stopped = await requester.request({ ...ask("a b STOP d"), stop: ["STOP"] }, () => undefined);
      expect(stopped.text).toBe("Echo: a b ");
    });

    it("cancel stops the engine within a token or two, and bills only what streamed", async () => {
      const engine = new ScriptedEngine({ tokenDelayMs: 5 });
      const { requesterSide, sessionKey } = await connect({ engine });
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const abort = new AbortController();
      let seen = 0;
      const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
      const result = await requester.request(
        ask(long),
        () => {
          if (++seen === 5) abort.abort();
        },
        abort.signal,
      );
      expect(result.finishReason).toBe("abort");
      expect(result.completionTokens).toBeGreaterThanOrEqual(5);
      expect(result.completionTokens).toBeLessThanOrEqual(8);
      const generated = engine.generatedTokens;
      await new Promise((r) => setTimeout(r, 60));
      expect(engine.generatedTokens).toBe(generated);
      expect(engine.activeGenerations).toBe(0);
    });

    it("cuts off a requester that stops paying after the credit window", async () => {
      const { requesterSide, sessionKey, events } = await connect({ creditWindowTokens: 5 });
      const received: SessionMessage[] = [];
      requesterSide.onMessage((m) => received.push(m));
      const base = signReceipt(
        { network: NETWORK_ID.devnet, escrow: ESCROW, payout: PAYOUT, keyEpoch: 0, tokens: 0n, amount: 0n },
        sessionKey,
      );
      await requesterSide.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(base) });
      const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ");
      await requesterSide.send({ v: 1, t: "request", id: "free", ...ask(long) });
      await until(() => received.some((m) => m.t === "credit-wait"));
      await new Promise((r) => setTimeout(r, 100)); // time in which nothing more may arrive
      const tokens = received.filter((m) => m.t === "tokens");
      expect(tokens.length).toBe(5);
      expect(received.some((m) => m.t === "credit-wait")).toBe(true);
      expect(received.some((m) => m.t === "done")).toBe(false);
      expect(events.some((e) => e.type === "credit-wait")).toBe(true);
    });

    it("stops generating and frees its slot when the requester vanishes mid-answer", async () => {
      const engine = new ScriptedEngine({ tokenDelayMs: 5 });
      const { requesterSide, sessionKey } = await connect({ engine, capacity: 1, maxWaiting: 0 });
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
      let seen = 0;
      const lost = requester.request(ask(long), () => {
        if (++seen === 3) requester.close();
      });
      await expect(lost).rejects.toBeInstanceOf(ProviderError);
      await until(() => engine.activeGenerations === 0);
      const generated = engine.generatedTokens;
      expect(generated).toBeLessThan(20);
      await new Promise((r) => setTimeout(r, 50));
      expect(engine.generatedTokens).toBe(generated);

      // The slot is free again: a new session is served at once.
      const next = await connect({ engine, capacity: 1, maxWaiting: 0 });
      const again = await RequesterSession.open(next.requesterSide, options(next.sessionKey));
      expect((await again.request(ask("still here"), () => undefined)).text).toBe("Echo: still here");
    });

    it("refuses a provider that over-reports tokens, and signs nothing for them", async () => {
      const engine = new ScriptedEngine({ tokensPerChunk: 20, reply: () => "a b c" });
      const { requesterSide, sessionKey, held } = await connect({ engine });
      const account = new MemoryPaymentAccount();
      const requester = await RequesterSession.open(requesterSide, options(sessionKey, account));
      await expect(requester.request(ask("hi"), () => undefined)).rejects.toBeInstanceOf(OverReportError);
      expect((await account.last(STREAM))?.receipt.amount ?? 0n).toBe(0n);
      expect((await held.best(STREAM))?.receipt.amount).toBe(0n);
      expect(requester.isOpen).toBe(false);
    });

    it("bounds tokens on the whole answer: one byte per chunk cannot bill two tokens a byte", async () => {
      // Under a per-chunk allowance each one-byte chunk could claim 2 tokens: 20 for 10 bytes.
      const greedy = new ScriptedEngine({ tokensPerChunk: 2, bytePerChunk: true, reply: () => "abcdefghij" });
      const a = await connect({ engine: greedy });
      const cheated = await RequesterSession.open(a.requesterSide, options(a.sessionKey));
      await expect(cheated.request(ask("hi"), () => undefined)).rejects.toBeInstanceOf(OverReportError);
      expect(cheated.isOpen).toBe(false);

      // An honest provider streaming one byte per chunk is paid for every token.
      const honest = new ScriptedEngine({ bytePerChunk: true, reply: () => "abcdefghij" });
      const b = await connect({ engine: honest });
      const served = await RequesterSession.open(b.requesterSide, options(b.sessionKey));
      const answer = await served.request(ask("hi"), () => undefined);
      expect(answer.text).toBe("abcdefghij");
      expect(answer.completionTokens).toBe(10);
    });

    it("refuses requests past the queue with QUEUE_FULL, and serves the rest", async () => {
      const engine = new ScriptedEngine({ tokenDelayMs: 10 });
      const { requesterSide, sessionKey } = await connect({ engine, capacity: 1, maxWaiting: 1 });
      const requester = await RequesterSession.open(requesterSide, options(sessionKey));
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => requester.request(ask(`q${i} x y`), () => undefined)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
      const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(ProviderError);
      expect((refused.reason as ProviderError).code).toBe("QUEUE_FULL");
      expect(engine.maxConcurrentGenerations).toBe(1);
    });

    it("re-bases on the provider's receipt when the requester lost its state, if its own key signed it", async () => {
      const held = heldIn(new MemoryReceiptStore());
      const sessionKey = generateKeyPair();
      const first = await connect({ held, sessionKey });
      const r1 = await (await RequesterSession.open(first.requesterSide, options(sessionKey))).request(
        ask("x"),
        () => undefined,
      );
      await until(async () => (await held.best(STREAM))?.receipt.amount === r1.cost);
      // Same key, fresh (empty) account: the provider's held receipt becomes the base.
      const second = await connect({ held, sessionKey });
      const requester = await RequesterSession.open(second.requesterSide, options(sessionKey));
      const r2 = await requester.request(ask("y"), () => undefined);
      await until(async () => (await held.best(STREAM))?.receipt.amount === r1.cost + r2.cost);
      expect((await held.best(STREAM))?.receipt.amount).toBe(r1.cost + r2.cost);

      // A different key cannot adopt it: that receipt could inflate what it owes.
      const third = await connect({ held });
      await expect(
        RequesterSession.open(third.requesterSide, options(third.sessionKey)),
      ).rejects.toBeInstanceOf(ProviderError);
    });
  },
);

describe("forged receipts mid-session (in-memory pipe)", () => {
  it("refuses each by its code, keeps the honest receipt it holds, and the session goes on", async () => {
    makeLink = TRANSPORTS["in-memory pipe"]!;
    const { requesterSide, sessionKey, held, events } = await connect();
    const replies: SessionMessage[] = [];
    requesterSide.onMessage((m) => replies.push(m));
    const send = (receipt: string) => requesterSide.send({ v: 1, t: "receipt", receipt });
    const signed = (r: Partial<Receipt> & { tokens: bigint; amount: bigint }, key = sessionKey) =>
      encodeSignedReceipt(signReceipt({ ...STREAM, ...r }, key));
    await send(signed({ tokens: 0n, amount: 0n }));
    await until(() => replies.some((m) => m.t === "account"));
    await requesterSide.send({
      v: 1,
      t: "request",
      id: "r1",
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
    });
    await until(() => replies.some((m) => m.t === "done"));
    const done = replies.find((m) => m.t === "done") as Extract<SessionMessage, { t: "done" }>;
    const tokens = BigInt(done.usage.prompt_tokens + done.usage.completion_tokens);
    const amount = costOf(
      { promptTokens: done.usage.prompt_tokens, completionTokens: done.usage.completion_tokens },
      PRICE,
    );
    await send(signed({ tokens, amount }));
    await until(async () => (await held.best(STREAM))?.receipt.amount === amount);

    const flipped = signReceipt({ ...STREAM, tokens, amount: amount + 1n }, sessionKey);
    flipped.signature[5]! ^= 1;
    const other = Address.parse(`0:${"33".repeat(32)}`);
    const forgeries: [string, string][] = [
      [signed({ tokens, amount: amount + 1n }, generateKeyPair()), "RECEIPT_KEY"],
      [encodeSignedReceipt(flipped), "BAD_SIGNATURE"],
      [signed({ tokens: tokens - 1n, amount: amount - 1n }), "RECEIPT_STALE"],
      [signed({ tokens: tokens + 50n, amount: amount * 10n }), "RECEIPT_AHEAD"],
      [signed({ tokens, amount: 1n }), "RECEIPT_STALE"], // a lower cumulative amount for the same tokens
      [signed({ tokens, amount: amount + 1n, escrow: other }), "RECEIPT_STREAM"],
      [signed({ tokens, amount: amount + 1n, keyEpoch: 7 }), "RECEIPT_STREAM"],
      [signed({ tokens, amount: amount + 1n, network: NETWORK_ID.mainnet }), "RECEIPT_BINDING"],
      [signed({ tokens, amount: amount + 1n, payout: other }), "RECEIPT_BINDING"],
      ["not-a-receipt", "MALFORMED"],
    ];
    for (const [receipt, code] of forgeries) {
      const before = replies.length;
      await send(receipt);
      await until(() => replies.length > before);
      expect([code, replies.at(-1)]).toMatchObject([code, { t: "error", error: { code } }]);
    }
    expect((await held.best(STREAM))?.receipt).toMatchObject({ tokens, amount });
    expect(events.filter((e) => e.type === "receipt")).toHaveLength(1); // the honest one, and no forgery
    expect(requesterSide.isOpen).toBe(true);

    // Replayed into other sessions of the same provider: under another session key it is refused
    // RECEIPT_KEY; under the same key, the first receipt (older than the one held) opens no
    // account, and the provider answers with the receipt it holds.
    const honest = signed({ tokens, amount });
    const zero = signed({ tokens: 0n, amount: 0n });
    for (const [key, receipt, expected] of [
      [generateKeyPair(), honest, { t: "error", error: { code: "RECEIPT_KEY" } }],
      [sessionKey, zero, { t: "account", accepted: false, receipt: honest }],
    ] as const) {
      const other = await connect({ held, sessionKey: key });
      const answers: SessionMessage[] = [];
      other.requesterSide.onMessage((m) => answers.push(m));
      await other.requesterSide.send({ v: 1, t: "receipt", receipt });
      await until(() => answers.length > 0);
      expect(answers[0]).toMatchObject(expected);
      expect(other.events.filter((e) => e.type === "receipt")).toHaveLength(0);
    }
    expect((await held.best(STREAM))?.receipt).toMatchObject({ tokens, amount });
  });
});

describe("a stream at the end of what a receipt can count (in-memory pipe)", () => {
  it("streams no token a receipt could not carry: the answer ends at 2^64-1 tokens (length), the next is refused ESCROW_CANNOT_PAY", async () => {
    makeLink = TRANSPORTS["in-memory pipe"]!;
    const engine = new ScriptedEngine({ reply: () => "one two three four five six seven" });
    const { requesterSide, sessionKey } = await connect({ engine });
    const replies: SessionMessage[] = [];
    requesterSide.onMessage((m) => replies.push(m));
    const request = { v: 1 as const, t: "request" as const, id: "r1", ...ask("hi") };
    // Room for the prompt's bound and three completion tokens, no more.
    const base = MAX_RECEIPT_TOKENS - BigInt(maxPromptTokens(request)) - 3n;
    const receipt = encodeSignedReceipt(signReceipt({ ...STREAM, tokens: base, amount: 0n }, sessionKey));
    await requesterSide.send({ v: 1, t: "receipt", receipt });
    await until(() => replies.some((m) => m.t === "account"));
    expect(replies.find((m) => m.t === "account")).toMatchObject({ accepted: true });

    await requesterSide.send(request);
    await until(() => replies.some((m) => m.t === "done" || m.t === "error"));
    const done = replies.find((m) => m.t === "done") as Extract<SessionMessage, { t: "done" }>;
    expect(done).toMatchObject({ finish_reason: "length" });
    const streamed = replies
      .filter((m) => m.t === "tokens")
      .reduce((n, m) => n + (m.t === "tokens" ? m.count : 0), 0);
    expect(streamed).toBe(3);
    // Everything it streamed can be signed for: the requester's receipt for it fits the cell.
    const owed = base + BigInt(done.usage.prompt_tokens + done.usage.completion_tokens);
    expect(owed).toBeLessThanOrEqual(MAX_RECEIPT_TOKENS);
    expect(() => signReceipt({ ...STREAM, tokens: owed, amount: 1n }, sessionKey)).not.toThrow();

    await requesterSide.send({ ...request, id: "r2" });
    await until(() => replies.some((m) => m.t === "error"));
    expect(replies.find((m) => m.t === "error")).toMatchObject({
      id: "r2",
      error: { code: "ESCROW_CANNOT_PAY" },
    });
  });
});

describe("the requester's base receipt (in-memory pipe)", () => {
  it("one signed for another stream (payout, escrow or key epoch) is refused before it is sent: RECEIPT_BINDING naming it", async () => {
    makeLink = TRANSPORTS["in-memory pipe"]!;
    const other = Address.parse(`0:${"44".repeat(32)}`);
    for (const [bad, field] of [
      [{ payout: other }, "payout"],
      [{ escrow: other }, "escrow"],
      [{ keyEpoch: 3 }, "key epoch"],
    ] as const) {
      const { requesterSide, sessionKey, events } = await connect();
      const base = Promise.resolve(signReceipt({ ...STREAM, ...bad, tokens: 0n, amount: 0n }, sessionKey));
      const opened = RequesterSession.open(requesterSide, { ...options(sessionKey), base });
      await expect(opened).rejects.toMatchObject({ code: "RECEIPT_BINDING" });
      await expect(opened).rejects.toThrow(field);
      expect(events.filter((e) => e.type === "receipt" || e.type === "refused")).toEqual([]);
    }
  });
});
