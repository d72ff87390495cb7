import { ModelType } from "@mlc-ai/web-llm";
import { EngineError } from "../engines/engine";
import { modelFits } from "../engines/model-catalog";
import { gpuFacts, WebLlmEngine } from "../engines/webllm-engine.browser";
import type { EngineSource, GpuCheck, ModelOption } from "./engine-source-types";

/** Production engine source: WebLLM in a Web Worker on this device's GPU. */
const engine = new WebLlmEngine({
  createWorker: () => new Worker(new URL("../engines/webllm.worker.ts", import.meta.url), { type: "module" }),
});

const NO_WEBGPU_ADVICE = [
  "Use a recent Chrome, Edge or another Chromium browser on a desktop or laptop (WebGPU is on by default there).",
  "On Linux, Chromium may need WebGPU enabled at chrome://flags/#enable-unsafe-webgpu.",
  "Make sure hardware acceleration is on in the browser's settings, and update the GPU driver.",
];

export const engineSource: EngineSource = {
  label: "WebLLM on WebGPU",
  engine,
  async check(): Promise<GpuCheck> {
    try {
      return { ok: true, facts: await gpuFacts() };
    } catch (err) {
      const reason = err instanceof EngineError ? err.message : "WebGPU could not be started";
      return { ok: false, reason, advice: NO_WEBGPU_ADVICE };
    }
  },
  async models(facts): Promise<ModelOption[]> {
    const records = engine.appConfig.model_list.filter((r) => r.model_type !== ModelType.embedding);
    const device = { shaderF16: facts.shaderF16, memoryMB: facts.maxBufferMB };
    return Promise.all(
      records.map(async (r) => ({
        id: r.model_id,
        ...(r.vram_required_MB !== undefined && { vramMB: Math.ceil(r.vram_required_MB) }),
        fit: modelFits(r, device),
        cached: await engine.isCached(r.model_id).catch(() => false),
      })),
    );
  },
  repair: (model) => engine.repair(model),
};
