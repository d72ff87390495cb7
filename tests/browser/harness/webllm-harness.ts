// Test-only page: exposes the real WebLLM engine to Playwright. Never built into production.
import { EngineError } from "../../../web/engines/engine";
import { forcedTokenIds } from "../../../web/engines/forced-token-ids";
import type { SelfHostedModel } from "../../../web/engines/model-catalog";
import { gpuFacts, WebLlmEngine } from "../../../web/engines/webllm-engine.browser";
import { WorkerForcing } from "../../../web/engines/webllm-forcing-channel";

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

/**
 * The production path to the model's token ids: the tokenizer loader (its own lazy chunk, with
 * web-tokenizers as Vite bundles it) on a model location, and the one-to-one mapping.
 */
async function tokenIds(modelUrl: string, tokens: string[]) {
  const scriptsBefore = performance.getEntriesByType("resource").length;
  const { loadModelTokenizer } = await import("../../../web/engines/webllm-tokenizer");
  const codec = await loadModelTokenizer(modelUrl);
  const mapped = forcedTokenIds(codec, tokens);
  return {
    ...(mapped.ok ? { ok: true, ids: [...mapped.ids] } : { ok: false, reason: mapped.reason }),
    fetchedOnUse: performance.getEntriesByType("resource").length - scriptsBefore,
  };
}

/**
 * The page's forcing messages through the real WebLLM worker: registered, armed and taken back
 * with no model loaded (nothing generated, so nothing scored), within the channel's deadline.
 */
async function forcingRoundTrip() {
  const worker = new Worker(new URL("../../../web/engines/webllm.worker.ts", import.meta.url), {
    type: "module",
  });
  const forcing = new WorkerForcing(worker, "Toy-Model-MLC", 5_000);
  try {
    forcing.arm(Int32Array.from([0, 2, 6]));
    return { ok: true as const, logprobs: await forcing.take() };
  } catch (err) {
    return { ok: false as const, message: err instanceof Error ? err.message : String(err) };
  } finally {
    forcing.close();
    worker.terminate();
  }
}

(window as unknown as { silkHarness: unknown }).silkHarness = { tryLoad, device, tokenIds, forcingRoundTrip };
document.body.dataset.ready = "true";
