import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalDevice } from "../../client/web/local-device";
import { engineSource } from "../../web/engines/engine-source";

/**
 * The web client's "can this device answer it?" check with the production engine source: it must
 * decide from the GPU's facts and our own table, without WebLLM's code (about 2 MB gzip), which is
 * fetched only to answer on the device. Here that code cannot load at all (both imports throw), so
 * a check that reached for it would say so. The GPU is a test double of WebGPU's adapter.
 */
vi.mock("@mlc-ai/web-llm", () => {
  throw new Error("WebLLM's code was fetched");
});
vi.mock("../../web/engines/webllm-engine.browser", () => {
  throw new Error("WebLLM's engine was fetched");
});

function adapter(maxBufferMB: number, features: string[]) {
  return {
    info: { vendor: "test double", architecture: "", description: "" },
    features: new Set(features),
    limits: { maxBufferSize: maxBufferMB * 1024 * 1024 },
  };
}
let gpu = adapter(4096, ["shader-f16"]);

beforeAll(() => {
  vi.stubGlobal("navigator", { gpu: { requestAdapter: async () => gpu } });
});
afterAll(() => {
  vi.unstubAllGlobals();
});

describe("the local fit check", () => {
  it("says a prebuilt model fits, or why not, without fetching WebLLM", async () => {
    gpu = adapter(4096, ["shader-f16"]);
    expect(await new LocalDevice().fit("Llama-3.2-1B-Instruct-q4f16_1-MLC")).toEqual({
      model: "Llama-3.2-1B-Instruct-q4f16_1-MLC",
      fits: true,
      needMB: 880,
    });
    expect(await new LocalDevice().fit("Llama-3.1-8B-Instruct-q4f32_1-MLC")).toEqual({
      model: "Llama-3.1-8B-Instruct-q4f32_1-MLC",
      fits: false,
      reason: "needs about 6102 MB of GPU memory; this device reports 4096 MB",
    });
    gpu = adapter(4096, []);
    expect(await new LocalDevice().fit("Llama-3.2-1B-Instruct-q4f16_1-MLC")).toMatchObject({
      fits: false,
      reason: expect.stringMatching(/needs shader-f16/),
    });
    expect(await new LocalDevice().fit("Not-A-Model-MLC")).toEqual({
      model: "Not-A-Model-MLC",
      fits: false,
      reason: "Not-A-Model-MLC is not a model this browser can run",
    });
  });

  it("reads a self-hosted model's own requirements, which take the place of a prebuilt one of that id", async () => {
    gpu = adapter(4096, ["shader-f16"]);
    engineSource.selfHost([
      {
        modelId: "Own-Model-q4f32_1-MLC",
        modelUrl: "https://m.example/",
        modelLibUrl: "x",
        vramRequiredMB: 8000,
      },
      {
        modelId: "Llama-3.2-1B-Instruct-q4f32_1-MLC",
        modelUrl: "https://m.example/",
        modelLibUrl: "x",
        vramRequiredMB: 5000,
      },
    ]);
    try {
      expect(await new LocalDevice().fit("Own-Model-q4f32_1-MLC")).toMatchObject({
        fits: false,
        reason: "needs about 8000 MB of GPU memory; this device reports 4096 MB",
      });
      expect(await new LocalDevice().fit("Llama-3.2-1B-Instruct-q4f32_1-MLC")).toMatchObject({ fits: false });
    } finally {
      engineSource.selfHost([]);
    }
  });

  it("answering on the device is what fetches WebLLM (here it cannot: a clear error, not a hang)", async () => {
    await expect(
      new LocalDevice().answer(
        { model: "Llama-3.2-1B-Instruct-q4f32_1-MLC", messages: [{ role: "user", content: "hi" }] },
        () => {},
        new AbortController().signal,
      ),
    ).rejects.toThrow(/WebLLM's code could not be downloaded/);
  });
});
