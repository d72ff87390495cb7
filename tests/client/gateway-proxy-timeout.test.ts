import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { startIdleProxy } from "../support/idle-proxy";
import { readResponseEvents } from "../support/responses-stream";
import { relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A reverse proxy in front of the gateway cuts a response that sends nothing for its read timeout
 * (nginx's `proxy_read_timeout`, 60 s by default), and a big model's first token can take longer
 * than that. Scaled down: the proxy gives up after 3 s of silence, the first token comes after 6 s,
 * the gateway sends a keep-alive every second. A streamed answer gets through whole, chat and
 * Responses, through the official openai client; a failure after the stream opened still reaches
 * the client as a typed error, not a stream that merely stops.
 */
const PROXY_IDLE_MS = 3_000;
const FIRST_TOKEN_MS = 2 * PROXY_IDLE_MS;
const KEEP_ALIVE_MS = 1_000;

/** TEST DOUBLE of a model slow to start: the scripted echo after `firstMs`, or a failure then when asked. */
class SlowStart extends ScriptedEngine {
  constructor(private readonly firstMs: number) {
    super({ tokenDelayMs: 10 });
  }
  override async generate(r: EngineRequest, c: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    await new Promise((resolve) => setTimeout(resolve, this.firstMs));
    const last = r.messages.at(-1)?.content;
    if (typeof last === "string" && last.startsWith("fail")) throw new Error("the GPU fell over");
    return super.generate(r, c, signal);
  }
}

let gateway: Gateway;
let proxy: Awaited<ReturnType<typeof startIdleProxy>>;
let openai: OpenAI;

beforeAll(async () => {
  const { url } = await startServer();
  await relayProvider(url, {
    engine: new SlowStart(FIRST_TOKEN_MS),
    capacity: 4,
    deadlines: { keepalive: 300 },
  });
  const client = await relayClient(url, { deadlines: { frame: 1_500 } });
  gateway = await startGateway({ client, keepAliveMs: KEEP_ALIVE_MS });
  proxy = await startIdleProxy(gateway.url, PROXY_IDLE_MS);
  openai = new OpenAI({ baseURL: proxy.url, apiKey: "unused", maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  await gateway?.close();
  stopAll();
  await cleanup();
});

const ask = (content: string) => ({ model: "test-model", messages: [{ role: "user" as const, content }] });

describe("a first token slower than a proxy's read timeout", () => {
  it("a streamed chat answer gets through the proxy whole", async () => {
    const stream = await openai.chat.completions.create({ ...ask("slow chat"), stream: true });
    let text = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ text, finish }).toEqual({ text: "Echo: slow chat", finish: "stop" });
  }, 60_000);

  it("a streamed Responses answer gets through the proxy whole", async () => {
    const stream = await openai.responses.create({
      model: "test-model",
      input: "slow responses",
      stream: true,
    });
    const { types, text } = await readResponseEvents(stream);
    expect(text).toBe("Echo: slow responses");
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
  }, 60_000);

  it("the keep-alives are SSE comments, and the stream opens with a 200 before the first token", async () => {
    const res = await fetch(`${proxy.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ask("raw"), stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const body = await res.text();
    expect(body.startsWith(": keep-alive\n\n")).toBe(true);
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
  }, 60_000);

  it("a failure after the stream opened reaches the client as a typed error event, chat and Responses", async () => {
    const chat = await openai.chat.completions.create({ ...ask("fail chat"), stream: true });
    const chatErr = await (async () => {
      for await (const _ of chat) {
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(chatErr).toBeInstanceOf(OpenAI.APIError);
    // The provider reports its engine's failure as ENGINE (a 502 engine_failed before the stream opened).
    expect(chatErr).toMatchObject({ code: "engine_failed" });

    // The Responses API ends a failed stream with `response.failed`, then an `error` event, which
    // carries the error object as chat's does, so the openai client throws it as an APIError.
    const resp = await openai.responses.create({
      model: "test-model",
      input: "fail responses",
      stream: true,
    });
    const events: { type: string; code?: string | null }[] = [];
    const respErr = await (async () => {
      for await (const event of resp) events.push(event);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(events.map((e) => e.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.failed",
    ]);
    expect(respErr).toBeInstanceOf(OpenAI.APIError);
    expect(respErr).toMatchObject({ code: "engine_failed" });
  }, 60_000);
});
