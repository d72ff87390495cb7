import { describe, expect, it } from "vitest";
import { EngineError } from "../../web/engines/engine";
import { runWebLlmEmbed, webLlmEmbedRequest } from "../../web/engines/webllm-embed";
import { EMBEDDING_MODELS, MlcEmbeddingsDouble } from "../doubles/mlc-engine";

/**
 * How the WebLLM engine maps Silk's embeddings requests onto WebLLM's `engine.embeddings.create`,
 * against a double that throws where WebLLM throws (the real model needs WebGPU and weights).
 */
const MODEL = EMBEDDING_MODELS[0]!;

describe("WebLLM embeddings mapping", () => {
  it("asks for floats of every input, in order, and reports the tokens WebLLM read", async () => {
    const engine = new MlcEmbeddingsDouble(MODEL);
    const r = await runWebLlmEmbed(engine, { model: MODEL, input: ["one two", "three"] });
    expect(engine.requests).toEqual([{ input: ["one two", "three"], model: MODEL }]);
    expect(r.vectors).toHaveLength(2);
    expect(r.vectors.every((v) => v.length === 768)).toBe(true);
    expect(r.vectors[0]).not.toEqual(r.vectors[1]);
    expect(r.promptTokens).toBe(2 + 2 + 1 + 2);
  });

  it("leaves out `user` (WebLLM throws on it) and never resets a chat the model does not have", async () => {
    const engine = new MlcEmbeddingsDouble(MODEL);
    const r = await runWebLlmEmbed(engine, { model: MODEL, input: ["x"], user: "ada" });
    expect(r.vectors).toHaveLength(1);
    expect(engine.requests[0]).not.toHaveProperty("user");
  });

  it("refuses dimensions by name before touching WebLLM", async () => {
    const engine = new MlcEmbeddingsDouble(MODEL);
    const err = await runWebLlmEmbed(engine, { model: MODEL, input: ["x"], dimensions: 256 }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ reason: "unsupported", message: expect.stringMatching(/^dimensions:/) });
    expect(engine.requests).toHaveLength(0);
    expect(() => webLlmEmbedRequest({ model: MODEL, input: ["x"], dimensions: 1 })).toThrow(/dimensions/);
  });

  it("runs concurrent calls one after another, as WebLLM's lock does", async () => {
    const engine = new MlcEmbeddingsDouble(EMBEDDING_MODELS[1]!);
    const [a, b] = await Promise.all([
      runWebLlmEmbed(engine, { model: engine.model, input: ["a"] }),
      runWebLlmEmbed(engine, { model: engine.model, input: ["b", "c"] }),
    ]);
    expect(a.vectors).toHaveLength(1);
    expect(b.vectors).toHaveLength(2);
    expect(a.vectors[0]).toHaveLength(384);
  });

  it("surfaces WebLLM's refusal of a chat model for embeddings", async () => {
    const engine = new MlcEmbeddingsDouble("Llama-3.2-1B-Instruct-q4f16_1-MLC");
    await expect(runWebLlmEmbed(engine, { model: engine.model, input: ["x"] })).rejects.toThrow(
      /IncorrectPipelineLoadedError/,
    );
  });
});
