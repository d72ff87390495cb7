import type {
  ChunkSink,
  DeviceReport,
  Engine,
  EngineRequest,
  EngineResult,
  LoadProgress,
  ScoreResult,
} from "./engine";
import { EngineError } from "./engine";
import type { EngineSource, GpuCheck, GpuFacts, ModelOption } from "./engine-source-types";
import { gpuFacts } from "./gpu-facts";
import {
  type ModelRequirement,
  modelFits,
  requirementOf,
  requirementOfRow,
  type SelfHostedModel,
  selfHostedRecord,
  webLlmSupport,
} from "./model-catalog";
import type { WebLlmEngine } from "./webllm-engine.browser";

/**
 * Production engine source: WebLLM in a Web Worker on this device's GPU. WebLLM (megabytes) is a
 * lazy chunk, not in the page's first download: it is fetched the first time its catalog and
 * cache are asked for (the provider page's model list, once WebGPU is found) or a model is
 * loaded; a browser without WebGPU never fetches it, and neither does the fit check (`fit`, our
 * own table). The worker runs its own copy of WebLLM in its own chunk.
 */
type WebLlm = { engine: WebLlmEngine; ModelType: typeof import("@mlc-ai/web-llm").ModelType };
/** One engine per role: a provider's, and an audit reference's (teacher forcing, webllm-engine.browser.ts). */
const webllm = new Map<boolean, Promise<WebLlm>>();
function loadWebLlm(reference: boolean): Promise<WebLlm> {
  const loading =
    webllm.get(reference) ??
    Promise.all([import("./webllm-engine.browser"), import("@mlc-ai/web-llm")]).then(
      ([{ WebLlmEngine }, { ModelType }]) => ({
        engine: new WebLlmEngine({
          createWorker: () => new Worker(new URL("./webllm.worker.ts", import.meta.url), { type: "module" }),
          reference,
        }),
        ModelType,
      }),
      (cause: unknown) => {
        webllm.delete(reference);
        throw new EngineError("load", "WebLLM's code could not be downloaded; check the connection", {
          cause,
        });
      },
    );
  webllm.set(reference, loading);
  return loading;
}

/** The operator's self-hosted models, applied each time WebLLM's list is read or a model loads. */
let selfHosted: readonly SelfHostedModel[] = [];
async function withSelfHosted(reference = false): Promise<WebLlm> {
  const w = await loadWebLlm(reference);
  w.engine.useSelfHosted(selfHosted);
  return w;
}

/** The page's engine: the WebLLM engine once its code is here; loading starts on first use. */
class LazyWebLlmEngine implements Engine {
  private loaded: WebLlmEngine | undefined;

  constructor(private readonly reference: boolean) {}

  private async real(): Promise<WebLlmEngine> {
    this.loaded = (await withSelfHosted(this.reference)).engine;
    return this.loaded;
  }

  async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    await (await this.real()).load(model, onProgress);
  }

  async generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return (await this.real()).generate(request, onChunk, signal);
  }

  /** Audits' `score` (feature `scoring`): forced on a reference engine, else along the greedy path. */
  async score(request: EngineRequest, tokens: readonly string[], signal?: AbortSignal): Promise<ScoreResult> {
    return (await this.real()).score(request, tokens, signal);
  }

  async unload(): Promise<void> {
    await this.loaded?.unload();
  }

  async device(): Promise<DeviceReport> {
    const gpu = await gpuFacts();
    return { backend: "webgpu", adapter: gpu.adapter, shaderF16: gpu.shaderF16, memoryMB: gpu.maxBufferMB };
  }

  loadedModels(): readonly string[] {
    return this.loaded?.loadedModels() ?? [];
  }
}

const NO_WEBGPU_ADVICE = [
  "Use a recent Chrome, Edge or another Chromium browser on a desktop or laptop (WebGPU is on by default there).",
  "On Linux, Chromium may need WebGPU enabled at chrome://flags/#enable-unsafe-webgpu.",
  "Make sure hardware acceleration is on in the browser's settings, and update the GPU driver.",
];

/**
 * The provider page's source. Its engine scores along the greedy path: forcing would slow every
 * answer it serves (webllm-forcing-channel.ts).
 */
export const engineSource: EngineSource = {
  label: "WebLLM on WebGPU",
  engine: new LazyWebLlmEngine(false),
  async check(): Promise<GpuCheck> {
    try {
      return { ok: true, facts: await gpuFacts() };
    } catch (err) {
      const reason = err instanceof EngineError ? err.message : "WebGPU could not be started";
      return { ok: false, reason, advice: NO_WEBGPU_ADVICE };
    }
  },
  async models(facts): Promise<ModelOption[]> {
    const { engine, ModelType } = await withSelfHosted();
    const own = new Map(selfHosted.map((m) => [m.modelId, m.modelUrl]));
    const records = engine.appConfig.model_list.filter((r) => r.model_type !== ModelType.embedding);
    return Promise.all(
      records.map(async (r) => ({
        id: r.model_id,
        ...(own.has(r.model_id) && { selfHostedAt: own.get(r.model_id) }),
        ...(r.vram_required_MB !== undefined && { vramMB: Math.ceil(r.vram_required_MB) }),
        fit: fitOn(requirementOf(r), facts),
        cached: await engine.isCached(r.model_id).catch(() => false),
        support: webLlmSupport(r),
      })),
    );
  },
  async fit(model, facts) {
    const own = selfHosted.find((m) => m.modelId === model);
    const need = own ? requirementOf(selfHostedRecord(own)) : await prebuiltRequirement(model);
    return need && fitOn(need, facts);
  },
  selfHost(models) {
    selfHosted = models;
  },
  repair: async (model) => (await withSelfHosted()).engine.repair(model),
};

/**
 * What a WebLLM prebuilt chat model needs, from our own table: a small lazy chunk of its own (the
 * provider page lists WebLLM's catalog instead), never WebLLM's code.
 */
export async function prebuiltRequirement(model: string): Promise<ModelRequirement | undefined> {
  const { PREBUILT_REQUIREMENTS } = await import("./model-requirements");
  const row = Object.hasOwn(PREBUILT_REQUIREMENTS, model) ? PREBUILT_REQUIREMENTS[model] : undefined;
  return row && requirementOfRow(row);
}

/** The fit check against what the adapter reports (its largest buffer stands for its memory). */
function fitOn(need: ModelRequirement, facts: GpuFacts) {
  return modelFits(need, { shaderF16: facts.shaderF16, memoryMB: facts.maxBufferMB });
}

/**
 * The requester's own device as its audit reference (client/web/local-device.ts): the same
 * models and checks, with an engine that loads each model with the forcing processor, so `score`
 * is teacher forcing (webllm-forced-score.ts). Its answers on this device pay that cost too.
 */
export const referenceEngineSource: EngineSource = {
  ...engineSource,
  engine: new LazyWebLlmEngine(true),
  repair: async (model) => (await withSelfHosted(true)).engine.repair(model),
};
