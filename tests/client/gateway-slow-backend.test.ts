import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { startGateway } from "../../client/gateway/gateway-server";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A slow backend: its first token comes long after the requester's frame deadline (the
 * gateway's stall timeout), as a big model's first token after a minute would with the defaults.
 * The provider says "working" meanwhile, so the user gets the whole answer, late, streamed or
 * not, through the official openai client: never a 504 while the provider is working. (A backend
 * that never answers is STALLED once `progress` runs out: stage-faults.test.ts.)
 */
const FRAME_MS = 1_500;
/** The first token after four frame deadlines. */
const FIRST_TOKEN_MS = 4 * FRAME_MS;

/** TEST DOUBLE of a model slow to start: the scripted echo, after `firstMs` of silence. */
class SlowStart extends ScriptedEngine {
  constructor(private readonly firstMs: number) {
    super({ tokenDelayMs: 10 });
  }
  override async generate(r: EngineRequest, c: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    await new Promise((resolve) => setTimeout(resolve, this.firstMs));
    return super.generate(r, c, signal);
  }
}

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  stopAll();
  await cleanup();
});

describe("a backend whose first token comes after several frame deadlines", () => {
  it("the user gets the whole answer through the gateway, streamed and not, and the provider is idle after", async () => {
    const { url } = await startServer();
    const p = await relayProvider(url, {
      engine: new SlowStart(FIRST_TOKEN_MS),
      capacity: 2,
      deadlines: { keepalive: 300 },
    });
    const client = await relayClient(url, { deadlines: { frame: FRAME_MS } });
    const gateway = await startGateway({ client });
    stops.push(() => gateway.close());
    const openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });

    const [whole, streamed] = await Promise.all([
      openai.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "slow one" }],
      }),
      (async () => {
        const stream = await openai.chat.completions.create({
          model: "test-model",
          messages: [{ role: "user", content: "slow two" }],
          stream: true,
        });
        let text = "";
        let finish: string | null | undefined;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? "";
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        return { text, finish };
      })(),
    ]);
    expect(whole.choices[0]?.message.content).toBe("Echo: slow one");
    expect(whole.choices[0]?.finish_reason).toBe("stop");
    expect(streamed).toEqual({ text: "Echo: slow two", finish: "stop" });
    await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
  }, 60_000);
});
