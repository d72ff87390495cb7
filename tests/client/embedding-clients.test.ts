import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { OpenAIEmbeddings } from "@langchain/openai";
import { embed, embedMany } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedVector } from "../doubles/openai-backend";
import { type GatewayNetwork, startGatewayNetwork } from "../support/gateway-network";

/**
 * /v1/embeddings as the Vercel AI SDK (`embed`, `embedMany`) and LangChain (`OpenAIEmbeddings`)
 * call it: real signaling, WebRTC and a headless provider in front of the OpenAI backend double
 * (a test double for the model, whose vectors are `embedVector`'s).
 */
let net: GatewayNetwork;

beforeAll(async () => {
  net = await startGatewayNetwork({
    providers: [{ model: "emb", payout: "f1", features: ["embeddings"], contextWindow: 8192 }],
    backend: { contextTokens: 8192 },
  });
});

afterAll(() => net?.close());

/** Equal to within float32's precision (the vectors cross the channel as float32). */
const near = (v: number[]) => v.map((x) => expect.closeTo(x, 5));

describe("embedding clients", () => {
  it("the Vercel AI SDK's embed and embedMany, with dimensions carried", async () => {
    const compatible = createOpenAICompatible({ name: "silk", baseURL: net.gateway.url, apiKey: "unused" });
    const one = await embed({ model: compatible.embeddingModel("emb"), value: "hello" });
    expect(one.embedding).toEqual(near(embedVector("hello")));
    expect(one.usage.tokens).toBeGreaterThan(0);
    const openai = createOpenAI({ baseURL: net.gateway.url, apiKey: "unused" });
    const many = await embedMany({
      model: openai.embedding("emb"),
      values: ["a", "b", "c"],
      providerOptions: { openai: { dimensions: 4 } },
    });
    expect(many.embeddings).toEqual(["a", "b", "c"].map((t) => near(embedVector(t, 4))));
    expect(net.backend.requests.at(-1)).toMatchObject({ input: ["a", "b", "c"], dimensions: 4 });
  });

  it("LangChain's OpenAIEmbeddings, a query and documents, with dimensions carried", async () => {
    const config = {
      model: "emb",
      apiKey: "unused",
      configuration: { baseURL: net.gateway.url },
      maxRetries: 0,
    };
    const embeddings = new OpenAIEmbeddings(config);
    expect(await embeddings.embedQuery("hello")).toEqual(near(embedVector("hello")));
    expect(await embeddings.embedDocuments(["a", "b"])).toEqual(["a", "b"].map((t) => near(embedVector(t))));
    const short = new OpenAIEmbeddings({ ...config, dimensions: 4 });
    expect(await short.embedQuery("x")).toEqual(near(embedVector("x", 4)));
    expect(net.backend.requests.at(-1)).toMatchObject({ dimensions: 4 });
  });
});
