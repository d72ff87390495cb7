// TEST ONLY: swapped in for provider/page/engine-source.ts by tests/browser/build-pages.ts. The
// scripted engine stands in for model weights, which cannot be downloaded here.
import type { LoadProgress } from "../../../provider/engines/engine";
import { EngineError } from "../../../provider/engines/engine";
import { downloadFailure, type SelfHostedModel } from "../../../provider/engines/model-catalog";
import type { EngineSource } from "../../../provider/page/engine-source-types";
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

export const engineSource: EngineSource = {
  label: "scripted test engine (tests only)",
  engine,
  async check() {
    return { ok: true, facts: { adapter: "scripted test engine", shaderF16: false, maxBufferMB: 1024 } };
  },
  async models() {
    return [
      { id: "test-model", vramMB: 1, fit: { fits: true }, cached: true },
      ...selfHosted.map((m) => ({
        id: m.modelId,
        selfHostedAt: m.modelUrl,
        fit: { fits: true } as const,
        cached: false,
      })),
    ];
  },
  selfHost(models) {
    selfHosted = models;
  },
  async repair() {},
};
