import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway } from "../../client/gateway/gateway-server";
import type { SilkClient } from "../../client/sdk/silk-client";
import { SignalingError } from "../../peer/signaling-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { ProviderRuntime } from "../../provider/runtime";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";

/**
 * Faults as a program behind the gateway sees them, with the official `openai` client: a provider
 * that stops an answer unasked, and the gateway's own stop mid-answer. Real signaling, WebRTC and
 * providers; the models are test doubles (the OpenAI-compatible backend, a scripted engine).
 */
let net: GatewayNetwork;
let openai: OpenAI;
const runtimes: ProviderRuntime[] = [];

/** TEST DOUBLE: an engine its operator stops after two words (WebLLM's interruptGenerate: "abort"). */
class InterruptedEngine extends ScriptedEngine {
  override async generate(r: EngineRequest, onChunk: ChunkSink): Promise<EngineResult> {
    let words = 0;
    const operator = new AbortController();
    const sink: ChunkSink = async (c) => {
      await onChunk(c);
      if (++words === 2) operator.abort();
    };
    return super.generate(r, sink, operator.signal);
  }
}

beforeAll(async () => {
  // 40 ms a word: an answer of 16 words is still streaming when the gateway stops.
  net = await startGatewayNetwork({
    providers: [{ model: "plain", payout: "22" }],
    backend: { tokenDelayMs: 40 },
  });
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
  runtimes.push(
    await ProviderRuntime.start({
      signalingUrl: net.signalingUrl,
      identity: generateKeyPair(),
      engine: new InterruptedEngine({ models: ["interrupted"] }),
      models: [{ model: "interrupted", price: flatPrice(5n) }],
      payout: `0:${"44".repeat(32)}`,
      wrtc,
    }),
  );
  vanishing = await ProviderRuntime.start({
    signalingUrl: net.signalingUrl,
    identity: generateKeyPair(),
    engine: new ScriptedEngine({ models: ["vanishing"], tokenDelayMs: 40 }),
    models: [{ model: "vanishing", price: flatPrice(5n) }],
    payout: `0:${"55".repeat(32)}`,
    wrtc,
  });
  runtimes.push(vanishing);
});

let vanishing: ProviderRuntime;

afterAll(async () => {
  for (const r of runtimes) r.stop();
  await net?.close();
});

const LONG = "a b c d e f g h i j k l m n o p";
const ask = (model: string, content = "one two three four five six") => ({
  model,
  messages: [{ role: "user" as const, content }],
});

/** Streams `model`'s answer, calling `onWord` per word; the finish reasons seen and the error thrown. */
async function streamOf(model: string, onWord: (n: number) => void = () => {}) {
  const stream = await openai.chat.completions.create({ ...ask(model), stream: true });
  const finishes: unknown[] = [];
  let words = 0;
  const err = await (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) onWord(++words);
      if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason);
    }
  })().catch((e: unknown) => e);
  return { finishes, err, words };
}

describe("a provider that stops an answer nobody asked it to stop, or vanishes mid-stream", () => {
  it("is a 502 provider_lost when no other provider can continue it (an error event when streaming), never a 200 with finish_reason abort or a truncated success", async () => {
    // The vanishing provider's stream runs beside the others: each waits out the failover's search.
    const vanished = streamOf("vanishing", (n) => {
      if (n === 3) vanishing.stop();
    });
    const streamed = (async () => {
      const stream = await openai.chat.completions.create({ ...ask("interrupted"), stream: true });
      const finishes: unknown[] = [];
      const err = await (async () => {
        for await (const c of stream)
          if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason);
      })().catch((e: unknown) => e);
      return { finishes, err };
    })();
    const err = await openai.chat.completions.create(ask("interrupted")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 502, code: "provider_lost" });
    // Streaming, the words that came are followed by the error, not by a finish the client cannot read.
    const { finishes, err: streamErr } = await streamed;
    expect(finishes).toEqual([]);
    expect(streamErr).toBeInstanceOf(OpenAI.APIError);
    expect(streamErr).toMatchObject({ code: "provider_lost" });
    const gone = await vanished;
    expect(gone.finishes).toEqual([]);
    expect(gone.words).toBeLessThan(6);
    expect(gone.err).toBeInstanceOf(OpenAI.APIError);
    expect(gone.err).toMatchObject({ code: "provider_lost" });
  });
});

describe("the gateway stopping mid-answer", () => {
  it("ends a stream in flight with a shutting_down error event and stops the provider; a call in flight is a 503 with retry-after", async () => {
    const gateway = await startGateway({ client: net.client });
    const program = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
    const abortedBefore = net.backend.aborted;
    const stream = await program.chat.completions.create({ ...ask("plain", LONG), stream: true });
    const waiting = program.chat.completions
      .create(ask("plain", LONG))
      .withResponse()
      .catch((e: unknown) => e);
    let words = 0;
    let closed: Promise<void> | undefined;
    const err = await (async () => {
      for await (const c of stream)
        if (c.choices[0]?.delta.content && ++words === 3) closed = gateway.close();
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ code: "shutting_down", error: { type: "service_unavailable" } });
    expect(words).toBeLessThan(16);
    const refused = await waiting;
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused).toMatchObject({ status: 503, code: "shutting_down" });
    expect((refused as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("1");
    await closed;
    await expect
      .poll(() => net.backend.aborted, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(abortedBefore + 2);
  });

  it("with a grace period, lets an answer in flight finish first and refuses what comes after", async () => {
    const gateway = await startGateway({ client: net.client });
    const program = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
    const stream = await program.chat.completions.create({ ...ask("plain"), stream: true });
    const closed = gateway.close({ graceMs: 20_000 });
    let text = "";
    let finish: string | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe("Echo: one two three four five six");
    expect(finish).toBe("stop");
    await closed;
    const late = await program.models.list().catch((e: unknown) => e);
    expect(late).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});

describe("a refusal a program should retry", () => {
  it("signaling's rate limit is OpenAI's 429 with retry-after, which the openai client waits out and retries", async () => {
    let asked = 0;
    // TEST DOUBLE: a client whose signaling server refuses every session request as too many.
    const limited = {
      ...net.client,
      chat: {
        completions: {
          create: async () => {
            asked++;
            throw new SignalingError("RATE_LIMITED", "too many session requests; retry in a few seconds");
          },
        },
      },
    } as unknown as SilkClient;
    const gateway = await startGateway({ client: limited });
    try {
      const raw = await fetch(`${gateway.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ask("plain")),
      });
      expect([raw.status, raw.headers.get("retry-after")]).toEqual([429, "2"]);
      expect(await raw.json()).toMatchObject({ error: { type: "rate_limit_error", code: "rate_limited" } });
      const program = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 1 });
      const started = Date.now();
      const err = await program.chat.completions.create(ask("plain")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(asked).toBe(3);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900); // it waited what retry-after said
    } finally {
      await gateway.close();
    }
  });
});
