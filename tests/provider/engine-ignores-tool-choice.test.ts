import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { flatPrice } from "../../protocol";
import { HttpEngine } from "../../provider/engines/http-engine";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * An honest provider whose HTTP backend does not honour `tool_choice` (Ollama reads none: here the
 * engine drops the field, so the OpenAI backend double calls its first tool): the requester
 * refuses a call under "none", or of another function than the one named (OVER_REPORT,
 * unasked-tool-calls.test.ts), so such a provider was called a liar and dropped for what its
 * backend did. The provider now
 * holds its backend to the choice itself: the call is never streamed, the request is refused
 * UNSUPPORTED naming `tool_choice` (as WebLLM's engine refuses a named choice), nothing of the
 * ruled-out call paid.
 */
class ChoiceBlindEngine extends HttpEngine {
  override generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    const { tool_choice: _ignored, ...rest } = request;
    return super.generate(rest, onChunk, signal);
  }
}

const fn = (name: string) => ({
  type: "function" as const,
  function: { name, parameters: { type: "object", properties: { city: { type: "string" } } } },
});
const TOOLS = [fn("get_weather"), fn("delete_files")];

let url: string;
let backend: OpenAiBackend;
beforeAll(async () => {
  ({ url } = await startServer());
  backend = await startOpenAiBackend();
});
afterAll(async () => {
  stopAll();
  await backend.close();
  await cleanup();
});

async function refusal(
  content: string,
  toolChoice: unknown = { type: "function", function: { name: "delete_files" } },
): Promise<unknown> {
  const engine = new ChoiceBlindEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
  await engine.load("test-model");
  const { events } = await relayProvider(url, {
    engine,
    models: [{ model: "test-model", price: flatPrice(10n), features: ["tools"] }],
  });
  const client = await relayClient(url);
  const err = await ask(client, content, {
    tools: TOOLS,
    tool_choice: toolChoice,
  }).catch((e: unknown) => e);
  return { err, events };
}

describe("a backend that ignores tool_choice", () => {
  it("has its provider refuse UNSUPPORTED naming tool_choice, not be called a liar", async () => {
    const { err } = (await refusal("Paris")) as { err: { code?: string; message?: string } };
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe("UNSUPPORTED");
    expect(err.message).toMatch(/tool_choice/);
  }, 30_000);

  it('called under "none": the same typed refusal', async () => {
    const { err } = (await refusal("Paris", "none")) as { err: { code?: string; message?: string } };
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe("UNSUPPORTED");
    expect(err.message).toMatch(/tool_choice/);
  }, 30_000);

  it("after text it streamed first: the same typed refusal", async () => {
    // "say first" makes the double stream "Let me check. " before the call.
    const { err } = (await refusal("say first Paris")) as { err: { code?: string; message?: string } };
    expect(err.code).toBe("UNSUPPORTED");
    expect(err.message).toMatch(/tool_choice/);
  }, 30_000);

  it("is left for another provider whose backend honours it, the same request answered there", async () => {
    stopAll();
    const blind = new ChoiceBlindEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    const honest = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    for (const engine of [blind, honest]) await engine.load("test-model");
    // The blind one is cheaper, so it is asked first; each is paid at an address of its own.
    await relayProvider(url, {
      engine: blind,
      models: [{ model: "test-model", price: flatPrice(10n), features: ["tools"] }],
    });
    const { key } = await relayProvider(url, {
      engine: honest,
      payout: `0:${"cd".repeat(32)}`,
      models: [{ model: "test-model", price: flatPrice(20n), features: ["tools"] }],
    });
    const client = await relayClient(url);
    const answer = (await ask(client, "Paris", {
      tools: TOOLS,
      tool_choice: { type: "function", function: { name: "delete_files" } },
    })) as ChatCompletion;
    expect(answer.choices[0]?.message.tool_calls?.map((c) => c.function.name)).toEqual(["delete_files"]);
    expect(answer.usage.silk?.provider).toBe(key);
  }, 30_000);
});
