import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A program that gives up on a streamed answer whose stream has opened (the gateway's keep-alives
 * are flowing) but whose first token has not come: the `openai` client's stream aborted, over chat
 * and the Responses API. The provider's engine is told to stop (its signal aborts) and the
 * provider serves the next request; nothing waits out the slow start.
 */
const FIRST_TOKEN_MS = 4_000;

/** TEST DOUBLE of a model slow to start that stops when told: it records each request's abort. */
class SlowStart extends ScriptedEngine {
  aborted = 0;
  started = 0;
  readonly asked: unknown[] = [];
  override async generate(r: EngineRequest, c: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    this.started++;
    this.asked.push(r.messages.at(-1)?.content);
    signal?.addEventListener("abort", () => this.aborted++, { once: true });
    const last = r.messages.at(-1)?.content;
    if (last !== "quick")
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, FIRST_TOKEN_MS);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    return super.generate(r, c, signal);
  }
}

let gateway: Gateway;
let openai: OpenAI;
let engine: SlowStart;

beforeAll(async () => {
  const { url } = await startServer();
  engine = new SlowStart({ tokenDelayMs: 10 });
  await relayProvider(url, { engine, capacity: 1 });
  const client = await relayClient(url);
  // Keep-alives every 200 ms: the stream opens long before the first token.
  gateway = await startGateway({ client, keepAliveMs: 200 });
  openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  stopAll();
  await cleanup();
});

describe("a stream aborted before its first token", () => {
  it("as its first session opens: the provider is never asked it, or is told to stop", async () => {
    const before = engine.aborted;
    const stream = await openai.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "slow start" }],
      stream: true,
    });
    stream.controller.abort();
    // One session, in order: had the aborted request gone out, the engine would have seen it first.
    // Which it is depends on whether the session opened before the client's abort came (the
    // stream's headers go at the first keep-alive, 200 ms): either is right, as long as a request
    // that went out is told to stop (capacity 1: the quick one waits for it to let go).
    await openai.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "quick" }],
    });
    if (engine.asked.length === 1) expect(engine.asked).toEqual(["quick"]);
    else {
      expect(engine.asked).toEqual(["slow start", "quick"]);
      expect(engine.aborted).toBe(before + 1);
    }
  }, 30_000);

  for (const route of ["chat", "responses"] as const) {
    it(`${route}: the provider's engine is told to stop, and the provider serves the next request`, async () => {
      const quick = () =>
        openai.chat.completions.create({
          model: "test-model",
          messages: [{ role: "user", content: "quick" }],
        });
      // The session is open: the request goes to the provider at once.
      await quick();
      const before = engine.aborted;
      const started = engine.started;
      const stream =
        route === "chat"
          ? await openai.chat.completions.create({
              model: "test-model",
              messages: [{ role: "user", content: "slow start" }],
              stream: true,
            })
          : await openai.responses.create({ model: "test-model", input: "slow start", stream: true });
      // The stream is open (the client resolved at its headers), the engine has the request,
      // nothing of the answer has come.
      await expect.poll(() => engine.started, { timeout: 10_000 }).toBe(started + 1);
      stream.controller.abort();
      await expect.poll(() => engine.aborted, { timeout: 10_000 }).toBe(before + 1);
      // Capacity 1: the next request is served only once the aborted one has let go of it.
      expect((await quick()).choices[0]?.finish_reason).toBe("stop");
    }, 30_000);
  }
});
