// Test-only page: exposes the real WebLLM engine to Playwright. Never built into production.
import { EngineError } from "../../../web/engines/engine";
import type { SelfHostedModel } from "../../../web/engines/model-catalog";
import { gpuFacts, WebLlmEngine } from "../../../web/engines/webllm-engine.browser";

export type LoadOutcome = { ok: true } | { ok: false; reason: string; message: string };

async function tryLoad(model: SelfHostedModel): Promise<LoadOutcome> {
  const engine = new WebLlmEngine({
    selfHosted: [model],
    createWorker: () =>
      new Worker(new URL("../../../web/engines/webllm.worker.ts", import.meta.url), { type: "module" }),
  });
  try {
    await engine.load(model.modelId);
    return { ok: true };
  } catch (err) {
    if (err instanceof EngineError) return { ok: false, reason: err.reason, message: err.message };
    return { ok: false, reason: "thrown", message: String(err) };
  } finally {
    await engine.unload();
  }
}

async function device() {
  try {
    return { ok: true as const, ...(await gpuFacts()) };
  } catch (err) {
    return { ok: false as const, message: err instanceof Error ? err.message : String(err) };
  }
}

(window as unknown as { silkHarness: unknown }).silkHarness = { tryLoad, device };
document.body.dataset.ready = "true";
