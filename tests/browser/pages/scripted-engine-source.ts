// TEST ONLY: swapped in for web/engines/engine-source.ts by tests/browser/build-pages.ts, on the
// provider page and in the web client (local answering). The scripted engine stands in for model
// weights, which cannot be downloaded here; the fit of test-model is decided by the real check
// (`modelFits`, web/engines/model-catalog.ts) against the GPU facts this double reports, which a
// test sets with localStorage "silk-test-gpu-mb" (default 1024 MB).
import type { LoadProgress } from "../../../web/engines/engine";
import { EngineError } from "../../../web/engines/engine";
import type { EngineSource } from "../../../web/engines/engine-source-types";
import { downloadFailure, modelFits, type SelfHostedModel } from "../../../web/engines/model-catalog";
import { ScriptedEngine } from "../../doubles/scripted-engine";

let selfHosted: readonly SelfHostedModel[] = [];

/**
 * A self-hosted model is fetched from its location first, as WebLLM fetches its config there, and
 * fails the same way when the host does not answer; then the scripted engine answers for it.
 */
class SelfHostingScriptedEngine extends ScriptedEngine {
  override async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    const own = selfHosted.find((m) => m.modelId === model);
    if (own) {
      const res = await fetch(`${own.modelUrl}resolve/main/mlc-chat-config.json`).catch((e: unknown) => e);
      const failure =
        res instanceof Response && res.ok
          ? undefined
          : res instanceof Response
            ? `status ${res.status}`
            : res;
      if (failure !== undefined) {
        const said = downloadFailure(
          own.modelUrl,
          failure instanceof Error ? failure : new Error(String(failure)),
          true,
        );
        throw new EngineError("download", `could not load ${model}: ${said}`);
      }
    }
    await super.load(model, onProgress);
  }
}

const engine = new SelfHostingScriptedEngine({ models: [], tokenDelayMs: 5 });
/** The scripted model as our table would list it: an f32 model needing 512 MB. */
const TEST_MODEL = { vramMB: 512, shaderF16: false };

function gpuMB(): number {
  const set = typeof localStorage === "undefined" ? null : localStorage.getItem("silk-test-gpu-mb");
  return set ? Number(set) : 1024;
}

export const engineSource: EngineSource = {
  label: "scripted test engine (tests only)",
  engine,
  async check() {
    return { ok: true, facts: { adapter: "scripted test engine", shaderF16: false, maxBufferMB: gpuMB() } };
  },
  async models(facts) {
    return [
      { id: "test-model", vramMB: 512, fit: (await engineSource.fit("test-model", facts))!, cached: true },
      ...selfHosted.map((m) => ({
        id: m.modelId,
        selfHostedAt: m.modelUrl,
        fit: { fits: true } as const,
        cached: false,
      })),
    ];
  },
  async fit(model, facts) {
    if (selfHosted.some((m) => m.modelId === model)) return { fits: true };
    if (model !== "test-model") return undefined;
    return modelFits(TEST_MODEL, { shaderF16: facts.shaderF16, memoryMB: facts.maxBufferMB });
  },
  selfHost(models) {
    selfHosted = models;
  },
  async repair() {},
};

/** The web client's own device as its audit reference (engine-source.ts): the same scripted engine. */
export const referenceEngineSource: EngineSource = engineSource;
