import { getEventListeners } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReserveChain } from "../../client/sdk/reserve-keeper";
import { flatPrice } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Issue 12: one abort signal outlives many calls (a pool's retries run on one request's signal;
 * an app may pass one signal to every call). Each call removes its listener when it ends, so none
 * pile up and Node never prints a MaxListenersExceededWarning.
 */
let url: string;
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);

beforeAll(async () => {
  ({ url } = await startServer());
  process.on("warning", onWarning);
});
afterAll(async () => {
  process.off("warning", onWarning);
  stopAll();
  await cleanup();
});

describe("abort listeners", () => {
  it("twenty calls on one signal leave no listener on it and no leak warning", async () => {
    await relayProvider(url);
    const client = await relayClient(url);
    const app = new AbortController();
    for (let i = 0; i < 20; i++) {
      const answer = await ask(client, `call ${i}`, { signal: app.signal });
      expect(answer).toMatchObject({ choices: [{ message: { content: `Echo: call ${i}` } }] });
      expect(getEventListeners(app.signal, "abort")).toHaveLength(0);
    }
    // Streaming too: the listener goes when the stream ends.
    const stream = (await ask(client, "streamed", {
      signal: app.signal,
      stream: true,
    })) as unknown as AsyncIterable<unknown>;
    for await (const _ of stream);
    expect(getEventListeners(app.signal, "abort")).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  }, 60_000);

  it("leaving a stream's loop early stops the provider and signs for no more, as OpenAI's Stream aborts", async () => {
    const reply = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const engine = new ScriptedEngine({ tokenDelayMs: 30, reply: () => reply, models: ["long-model"] });
    const { events } = await relayProvider(url, {
      engine,
      models: [{ model: "long-model", price: flatPrice(10n) }],
    });
    const client = await relayClient(url);
    const stream = await client.chat.completions.create({
      model: "long-model",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    let read = 0;
    for await (const _ of stream) if (++read === 3) break;
    await expect.poll(() => engine.activeGenerations, { timeout: 10_000 }).toBe(0);
    expect(engine.generatedTokens).toBeLessThan(20);
    const signed = events.flatMap((e) => (e.type === "receipt" ? [Number(e.receipt.receipt.tokens)] : []));
    expect(Math.max(0, ...signed)).toBeLessThan(40); // the prompt and a few tokens, never the 60
  }, 30_000);

  it("a call whose signal is already aborted is refused at once with an AbortError: no provider asked, nothing paid", async () => {
    // It was sent anyway, answered (after waiting for room when the provider was busy) and paid for.
    const engine = new ScriptedEngine({ reply: () => "never", models: ["aborted-model"] });
    const { events } = await relayProvider(url, {
      engine,
      models: [{ model: "aborted-model", price: flatPrice(10n) }],
    });
    const client = await relayClient(url);
    const gone = AbortSignal.abort();
    for (const stream of [false, true]) {
      const refused = await client.chat.completions
        .create({ model: "aborted-model", messages: [{ role: "user", content: "x" }], stream, signal: gone })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ name: "AbortError" });
    }
    expect(engine.generatedTokens).toBe(0);
    expect(events.filter((e) => e.type === "session-open" || e.type === "receipt")).toEqual([]);
    expect(getEventListeners(gone, "abort")).toHaveLength(0);
  }, 30_000);

  it("a call cancelled while it waits for the provider's place ends as a cancel: finish_reason abort, nothing run or billed", async () => {
    // It was the provider's error INTERNAL ("aborted while queued"): a failure the caller had not
    // caused, a 502 logged as the provider's through the gateway.
    const reply = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const engine = new ScriptedEngine({ tokenDelayMs: 50, reply: () => reply, models: ["one-place"] });
    await relayProvider(url, {
      engine,
      capacity: 1,
      maxWaiting: 2,
      models: [{ model: "one-place", price: flatPrice(10n) }],
    });
    const client = await relayClient(url);
    const ask1 = (content: string, signal?: AbortSignal) =>
      client.chat.completions.create({
        model: "one-place",
        messages: [{ role: "user", content }],
        ...(signal && { signal }),
      });
    const first = ask1("first");
    await expect.poll(() => engine.generatedTokens, { timeout: 10_000 }).toBeGreaterThan(0);
    const stop = new AbortController();
    const queued = ask1("queued", stop.signal);
    // The provider has it in its queue behind the first answer (which runs for about 2 s).
    await new Promise((r) => setTimeout(r, 500));
    stop.abort();
    expect(await queued).toMatchObject({
      choices: [{ message: { content: "" }, finish_reason: "abort" }],
      usage: { prompt_tokens: 0, completion_tokens: 0 },
    });
    expect((await first).choices[0]?.message.content).toBe(reply);
    expect(engine.generatedTokens).toBe(40);
  }, 30_000);

  it("a call aborted while its reserve is read is never sent: it rejects with an AbortError and the provider runs nothing", async () => {
    // The cancel went out at once, ahead of the request still waiting on the chain; the provider,
    // knowing no such request, dropped it, then ran the request whole when it came.
    const reply = Array.from({ length: 30 }, (_, i) => `r${i}`).join(" ");
    const engine = new ScriptedEngine({ tokenDelayMs: 10, reply: () => reply, models: ["reserved-model"] });
    await relayProvider(url, { engine, models: [{ model: "reserved-model", price: flatPrice(10n) }] });
    let reserved = 0n;
    let reads = 0;
    let hold: Promise<void> | undefined;
    const chain: ReserveChain = {
      send: async (signed) => {
        reserved = signed.reserve.reserved;
      },
      reserved: async () => {
        reads++;
        await hold;
        return reserved;
      },
    };
    const client = await relayClient(url, { reserve: { chain, ahead: 1_000n, recheckMs: 0, pollMs: 1 } });
    const ask1 = (content: string, signal?: AbortSignal) =>
      client.chat.completions.create({
        model: "reserved-model",
        messages: [{ role: "user", content }],
        ...(signal && { signal }),
      });
    expect((await ask1("warm")).choices[0]?.message.content).toBe(reply);
    const generated = engine.generatedTokens;
    let release: () => void = () => undefined;
    hold = new Promise<void>((r) => {
      release = r;
    });
    const readsBefore = reads;
    const stop = new AbortController();
    const aborted = ask1("aborted", stop.signal).catch((e: unknown) => e);
    await expect.poll(() => reads, { timeout: 10_000 }).toBeGreaterThan(readsBefore);
    stop.abort();
    release();
    hold = undefined;
    expect(await aborted).toMatchObject({ name: "AbortError" });
    expect((await ask1("after")).choices[0]?.message.content).toBe(reply);
    expect(engine.generatedTokens - generated).toBe(30);
  }, 30_000);
});
