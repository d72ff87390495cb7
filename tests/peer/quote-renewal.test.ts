import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConnectOptions } from "../../client/sdk/connect-options";
import { RequesterSession } from "../../client/sdk/requester-session";
import { flatPrice, type ModelPrice, SecureSession, type SessionMessageInput } from "../../protocol";
import { HttpEngine } from "../../provider/engines/http-engine";
import type { ProviderRuntimeOptions, RuntimeEvent } from "../../provider/runtime";
import { ReceiptAccount } from "../../provider/serving/receipt-account";
import { startOpenAiBackend } from "../doubles/openai-backend";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { opened, refusedWith, stopAll, wrtcClient, wrtcProvider } from "../support/silk-parties";

/**
 * A session's prices are the provider's signed word until its quotes expire (quoteTtlMs here 4 s,
 * a day by default). A session kept busy past that went on billing at them: after the operator
 * raised the price, at the old one for as long as the requester kept the session open; after a
 * cut, at the old, dearer one. Now the SDK starts nothing more on a session whose quote runs out
 * and opens a fresh one, with the provider's current quote, checked against its highest price
 * (the requester decides anew); and the provider starts nothing under an expired quote
 * (QUOTE_EXPIRED, which the SDK meets when its clock is behind and answers with a fresh session;
 * an older SDK that does not declare the code, and never retires a session, is served as before at
 * the session's price). Real WebRTC, real signaling.
 */
const TTL_MS = 4_000;

afterEach(async () => {
  vi.restoreAllMocks();
  stopAll();
  await cleanup();
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A provider whose quotes live TTL_MS; `models` is its live price list (the operator edits it). */
async function provider(
  url: string,
  models: { model: string; price: ModelPrice }[],
  engine = new ScriptedEngine({ reply: () => "one two three four five" }),
  more: Partial<ProviderRuntimeOptions> = {},
) {
  const { runtime, events } = await wrtcProvider(url, { engine, models, quoteTtlMs: TTL_MS, ...more });
  return { runtime, events };
}

async function requester(
  url: string,
  more: Partial<ConnectOptions> = {},
): Promise<(content: string) => Promise<bigint>> {
  const client = await wrtcClient(url, more);
  return async (content) => {
    const answer = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content }],
    });
    expect(answer.choices[0]?.message.content).toBe("one two three four five");
    return BigInt((answer.usage as unknown as { silk: { cost_nanoton: string } }).silk.cost_nanoton);
  };
}

/** Until the first session's quotes (signed at its account, before `since`: its first answer's end) have run out. */
const pastQuotes = (since: number) => wait(since + TTL_MS + 300 - Date.now());

describe("a session kept past its quotes' expiry", () => {
  it("the SDK opens a fresh session with the provider's current quote: a raised price is billed after it", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const models = [{ model: "test-model", price: flatPrice(10n) }];
    const p = await provider(url, models);
    const ask = await requester(url);
    const first = await ask("same question");
    const since = Date.now();
    // The operator raises the price; the running session's quote still promises 10 until it expires.
    models[0] = { model: "test-model", price: flatPrice(20n) };
    const within = await ask("same question");
    expect(within).toBe(first);
    expect(opened(p.events)).toBe(1);
    await pastQuotes(since);
    const after = await ask("same question");
    // The same answer and prompt size at twice the price, on a second session.
    expect(after).toBe(first * 2n);
    expect(opened(p.events)).toBe(2);
    expect(refusedWith(p.events)).toEqual([]);
  }, 40_000);

  it("a provider whose clock says the quote ran out first: QUOTE_EXPIRED, nothing started, the request answered on a fresh session", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const p = await provider(url, [{ model: "test-model", price: flatPrice(10n) }]);
    // The requester's clock is behind: its own check never finds the quote run out.
    vi.spyOn(RequesterSession.prototype, "quoteLive").mockReturnValue(true);
    vi.spyOn(RequesterSession.prototype, "quoteRunOut").mockReturnValue(false);
    const ask = await requester(url);
    const first = await ask("same question");
    const since = Date.now();
    await pastQuotes(since);
    expect(await ask("same question")).toBe(first);
    expect(refusedWith(p.events)).toEqual(["QUOTE_EXPIRED"]);
    expect(opened(p.events)).toBe(2);
  }, 40_000);

  it("embeddings: QUOTE_EXPIRED met with the SDK's clock behind is answered on a fresh session", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const backend = await startOpenAiBackend();
    const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    await engine.load("embed-model");
    const { events } = await wrtcProvider(url, {
      engine,
      models: [{ model: "embed-model", price: flatPrice(10n), features: ["embeddings"] }],
      quoteTtlMs: TTL_MS,
    });
    vi.spyOn(RequesterSession.prototype, "quoteLive").mockReturnValue(true);
    vi.spyOn(RequesterSession.prototype, "quoteRunOut").mockReturnValue(false);
    const client = await wrtcClient(url);
    const embed = () => client.embeddings.create({ model: "embed-model", input: "the same words" });
    const first = await embed();
    const since = Date.now();
    await pastQuotes(since);
    const after = await embed();
    expect(after.data[0]?.embedding).toEqual(first.data[0]?.embedding);
    expect(refusedWith(events)).toEqual(["QUOTE_EXPIRED"]);
    expect(opened(events)).toBe(2);
    await backend.close();
  }, 40_000);

  it("to an older SDK (no `knows`, never retiring a session): served as before at the session's price, every time", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const p = await provider(url, [{ model: "test-model", price: flatPrice(10n) }]);
    vi.spyOn(RequesterSession.prototype, "quoteLive").mockReturnValue(true);
    vi.spyOn(RequesterSession.prototype, "quoteRunOut").mockReturnValue(false);
    const send = SecureSession.prototype.send;
    vi.spyOn(SecureSession.prototype, "send").mockImplementation(function (
      this: SecureSession,
      m: SessionMessageInput,
    ) {
      if (m.t !== "receipt") return send.call(this, m);
      const { knows: _, ...older } = m;
      return send.call(this, older);
    });
    const ask = await requester(url);
    const first = await ask("same question");
    const since = Date.now();
    await pastQuotes(since);
    // Refused PRICE, it would ask again on the same session and be refused again, for ever.
    expect(await ask("same question")).toBe(first);
    expect(await ask("same question")).toBe(first);
    expect(refusedWith(p.events)).toEqual([]);
    expect(opened(p.events)).toBe(1);
  }, 40_000);

  it("a lying provider's QUOTE_EXPIRED after tokens ends the answer there (typed, the tokens shown once), never runs it again", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    // Its engine fails after 3 tokens, once; the provider says QUOTE_EXPIRED rather than ENGINE.
    const engine = new ScriptedEngine({
      reply: () => "one two three four five",
      failAfter: { tokens: 3, error: () => new Error("gone"), times: 1 },
    });
    const p = await provider(url, [{ model: "test-model", price: flatPrice(10n) }], engine);
    const send = SecureSession.prototype.send;
    vi.spyOn(SecureSession.prototype, "send").mockImplementation(function (
      this: SecureSession,
      m: SessionMessageInput,
    ) {
      if (m.t !== "error" || m.error.code !== "ENGINE") return send.call(this, m);
      return send.call(this, { ...m, error: { ...m.error, code: "QUOTE_EXPIRED" } });
    });
    const client = await wrtcClient(url);
    let text = "";
    const err = await (async () => {
      const stream = await client.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "count" }],
        stream: true,
      });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    // Shown once, not again from the start on a fresh session.
    expect(text).toBe("one two three ");
    expect(err).toMatchObject({ code: "QUOTE_EXPIRED" });
    expect(engine.failures).toBe(1);
    expect(opened(p.events)).toBe(1);
  }, 40_000);

  it("a fresh session whose quote is not live from the start: the request ends typed, no session opened again and again", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const p = await provider(url, [{ model: "test-model", price: flatPrice(10n) }]);
    // Its quote runs out before the open ends (a clock gone forward mid-open, as here for good).
    vi.spyOn(RequesterSession.prototype, "quoteLive").mockReturnValue(false);
    vi.spyOn(RequesterSession.prototype, "quoteRunOut").mockReturnValue(false);
    const ask = await requester(url);
    const outcome = await Promise.race([
      ask("same question").then(
        () => "answered",
        (e: unknown) => e,
      ),
      wait(15_000).then(() => "still opening"),
    ]);
    expect(outcome).toMatchObject({ code: "QUOTE_EXPIRED" });
    expect(opened(p.events)).toBe(1);
  }, 40_000);

  it("embeddings as chat: a provider refusing its fresh session's quote too is left, another serves", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const backend = await startOpenAiBackend();
    const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    await engine.load("embed-model");
    // The cheaper provider (asked first) has its clock far ahead: every session's quote has run out there.
    const AHEAD = `0:${"33".repeat(32)}`;
    const quoteEndsAt = ReceiptAccount.prototype.quoteEndsAt;
    vi.spyOn(ReceiptAccount.prototype, "quoteEndsAt").mockImplementation(function (
      this: ReceiptAccount,
      model,
    ) {
      const payout = (this as unknown as { config: { payout: { toRawString(): string } } }).config.payout;
      return payout.toRawString() === AHEAD ? Date.now() - 1 : quoteEndsAt.call(this, model);
    });
    const start = async (payout: string, price: bigint) =>
      (
        await wrtcProvider(url, {
          engine,
          models: [{ model: "embed-model", price: flatPrice(price), features: ["embeddings"] }],
          payout,
          quoteTtlMs: TTL_MS,
        })
      ).events;
    const ahead = await start(AHEAD, 5n);
    const other = await start(`0:${"22".repeat(32)}`, 10n);
    const client = await wrtcClient(url);
    const r = await client.embeddings.create({ model: "embed-model", input: "the same words" });
    expect(r.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(refusedWith(ahead)).toEqual(["QUOTE_EXPIRED", "QUOTE_EXPIRED"]);
    expect(opened(other)).toBe(1);
    await backend.close();
  }, 40_000);
});

/** A client of its own, and one chat on it: the answer's text, who served it and how often it moved. */
async function sdk(url: string, more: Partial<ConnectOptions> = {}) {
  const client = await wrtcClient(url, more);
  return async (content: string) => {
    const answer = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content }],
    });
    const { provider, failovers } = (
      answer.usage as unknown as { silk: { provider: string; failovers: number } }
    ).silk;
    return { text: answer.choices[0]?.message.content, provider, failovers, at: Date.now() };
  };
}

describe("a provider whose session is draining (its quote ran out, an answer still streaming on it)", () => {
  // 60 tokens at 150 ms: about 9 s, well past the session's quote (TTL_MS).
  const LONG = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
  const slow = () => new ScriptedEngine({ reply: () => LONG, tokenDelayMs: 150 });
  const tokens = (events: RuntimeEvent[]) => events.filter((e) => e.type === "tokens").length;

  it("is treated as full: a live session with room at another provider answers at once, not after the drain", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    // The cheaper one (asked first): one place, no queue.
    const a = await provider(url, [{ model: "test-model", price: flatPrice(5n) }], slow(), {
      capacity: 1,
      maxWaiting: 0,
      payout: `0:${"33".repeat(32)}`,
    });
    // The other's quotes live a day.
    const b = await provider(url, [{ model: "test-model", price: flatPrice(10n) }], undefined, {
      quoteTtlMs: 24 * 3_600_000,
    });
    const ask = await sdk(url);
    const long = ask("long");
    await expect.poll(() => tokens(a.events), { timeout: 10_000 }).toBeGreaterThan(0);
    const started = Date.now();
    // A is full (QUEUE_FULL): this one opens a session with B, which joins the pool.
    const viaB = await ask("short");
    expect(viaB.text).toBe("one two three four five");
    expect(opened(b.events)).toBe(1);
    // A's session quote (signed before its first token) has run out by our clock; its answer streams on.
    await wait(started + TTL_MS - Date.now());
    const again = await ask("short");
    const whole = await long;
    // Answered on B's live session while A's answer still streamed: it waited for nothing.
    expect(again.provider).toBe(viaB.provider);
    expect(again.at).toBeLessThan(whole.at - 2_000);
    expect(whole.text).toBe(LONG);
    expect(whole.failovers).toBe(0);
    expect(opened(a.events)).toBe(1);
  }, 40_000);

  it("alone: a request waits for it within its own deadline, and a fresh session never cuts the answer", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    // Two places: signaling would grant a second session with it (which ends the first, one per stream).
    const a = await provider(url, [{ model: "test-model", price: flatPrice(10n) }], slow(), { capacity: 2 });
    const ask = await sdk(url, { queueTimeoutMs: 2_000 });
    const long = ask("long");
    await expect.poll(() => tokens(a.events), { timeout: 10_000 }).toBeGreaterThan(0);
    await wait(TTL_MS);
    // Nobody else serves it and the answer outlasts this request's deadline: it ends typed, the answer whole.
    const err = await ask("again").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ALL_BUSY" });
    const whole = await long;
    expect(whole.text).toBe(LONG);
    expect(whole.failovers).toBe(0);
    expect(opened(a.events)).toBe(1);
    // Once it drained, the next request gets a fresh session with the provider's current quote.
    expect((await ask("after")).text).toBe(LONG);
    expect(opened(a.events)).toBe(2);
  }, 40_000);
  it("draining does not hold a request for a model it does not serve: nobody serves that one, said at once", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const a = await provider(url, [{ model: "test-model", price: flatPrice(10n) }], slow(), { capacity: 2 });
    const client = await wrtcClient(url, { queueTimeoutMs: 5_000 });
    const long = client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "long" }],
    });
    await expect.poll(() => tokens(a.events), { timeout: 10_000 }).toBeGreaterThan(0);
    await wait(TTL_MS);
    // A's session is draining, and A serves only test-model: nothing to wait for.
    const started = Date.now();
    const err = await client.chat.completions
      .create({ model: "other-model", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toMatchObject({ code: "NO_MODEL" });
    expect(took).toBeLessThan(2_000);
    expect((await long).choices[0]?.message.content).toBe(LONG);
  }, 40_000);
});

describe("a provider that refused QUOTE_EXPIRED twice (its clock far ahead)", () => {
  it("is not the first asked by the next request while another serves: no two more wasted opens", async () => {
    const { url } = await startServer({ quoteMarginMs: 500 });
    const AHEAD = `0:${"33".repeat(32)}`;
    const quoteEndsAt = ReceiptAccount.prototype.quoteEndsAt;
    vi.spyOn(ReceiptAccount.prototype, "quoteEndsAt").mockImplementation(function (
      this: ReceiptAccount,
      model,
    ) {
      const payout = (this as unknown as { config: { payout: { toRawString(): string } } }).config.payout;
      return payout.toRawString() === AHEAD ? Date.now() - 1 : quoteEndsAt.call(this, model);
    });
    // The cheaper one is offered first every time signaling is asked.
    const ahead = await provider(url, [{ model: "test-model", price: flatPrice(5n) }], undefined, {
      payout: AHEAD,
    });
    const other = await provider(url, [{ model: "test-model", price: flatPrice(10n) }]);
    // Sessions idle for 300 ms close, so the second request asks signaling again.
    const ask = await sdk(url, { idleCloseMs: 300 });
    expect((await ask("first")).text).toBe("one two three four five");
    expect(refusedWith(ahead.events)).toEqual(["QUOTE_EXPIRED", "QUOTE_EXPIRED"]);
    await expect
      .poll(() => other.events.filter((e) => e.type === "session-closed").length, { timeout: 5_000 })
      .toBe(1);
    expect((await ask("second")).text).toBe("one two three four five");
    expect(refusedWith(ahead.events)).toEqual(["QUOTE_EXPIRED", "QUOTE_EXPIRED"]);
    expect(opened(ahead.events)).toBe(2);
    expect(opened(other.events)).toBe(2);
    // Asked last, not never: with nobody else, it is asked again (and its refusal is the answer).
    other.runtime.stop();
    await wait(1_000);
    await expect(ask("third")).rejects.toMatchObject({ code: "QUOTE_EXPIRED" });
    expect(opened(ahead.events)).toBe(4);
  }, 40_000);
});
