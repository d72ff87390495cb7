import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion, ChatCompletionChunk } from "../../client/sdk/openai-shapes";
import { type GatewayNetwork, oneOfEachRoute, startGatewayNetwork } from "../support/gateway-network";

/**
 * A gateway runs for weeks: what it sent is not kept. Every answer and every chunk of a stream the
 * SDK handed the gateway is watched with a WeakRef; once the answers are read and memory is
 * collected, none is left. (Each `race` against the gateway's stop used to leave a reaction on one
 * long-lived promise holding what it raced, so all of them stayed until the gateway stopped.)
 */
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let net: GatewayNetwork;
let openai: OpenAI;
const sent: WeakRef<object>[] = [];

beforeAll(async () => {
  net = await startGatewayNetwork({ providers: [{ model: "llama-local", payout: "22" }] });
  openai = new OpenAI({ baseURL: net.gateway.url, apiKey: "unused", maxRetries: 0 });
  // The gateway reads the client's create at each request: every answer it is handed is watched.
  const completions = net.client.chat.completions as { create: (p: never) => Promise<unknown> };
  const create = completions.create.bind(completions);
  completions.create = async (p: never) => {
    const answer = await create(p);
    if (!(answer && typeof answer === "object" && Symbol.asyncIterator in answer)) {
      sent.push(new WeakRef(answer as ChatCompletion));
      return answer;
    }
    const chunks = answer as AsyncIterable<ChatCompletionChunk> & { controller: AbortController };
    return {
      controller: chunks.controller,
      async *[Symbol.asyncIterator]() {
        for await (const chunk of chunks) {
          sent.push(new WeakRef(chunk));
          yield chunk;
        }
      },
    };
  };
});

afterAll(() => net?.close());

describe("what the gateway sent", () => {
  it("is not held once written: answers and chunks, over chat and the Responses API, streamed or not", async () => {
    for (let i = 0; i < 3; i++) await oneOfEachRoute(openai, "llama-local");
    // 3 answers and 3 streams of chunks over chat, the same over Responses.
    expect(sent.length).toBeGreaterThan(20);
    // A WeakRef's target is kept to the end of the job that read it: collected on a later one.
    await new Promise((r) => setTimeout(r, 100));
    gc();
    await new Promise((r) => setTimeout(r, 100));
    gc();
    expect(sent.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });
});
