import {
  type AppConfig,
  CreateWebWorkerMLCEngine,
  deleteModelAllInfoInCache,
  hasModelInCache,
  prebuiltAppConfig,
  type WebWorkerMLCEngine,
} from "@mlc-ai/web-llm";
import type { EmbedParams } from "../../protocol/schemas/embedding";
import type {
  ChunkSink,
  DeviceReport,
  EmbedResult,
  Engine,
  EngineRequest,
  EngineResult,
  LoadProgress,
  ScoreResult,
} from "./engine";
import { EngineError } from "./engine";
import type { TokenCodec } from "./forced-token-ids";
import { gpuFacts } from "./gpu-facts";
import {
  appConfigWith,
  downloadFailure,
  modelFits,
  requirementOf,
  type SelfHostedModel,
} from "./model-catalog";
import { SerialQueue } from "./serial-queue";
import { runWebLlmEmbed } from "./webllm-embed";
import { scoreWebLlmForced } from "./webllm-forced-score";
import { WorkerForcing } from "./webllm-forcing-channel";
import { runWebLlm } from "./webllm-run";
import { scoreWebLlm } from "./webllm-score";

export { gpuFacts } from "./gpu-facts";

/**
 * The real engine: WebLLM in a dedicated Web Worker. Handles WebLLM's known traps:
 * - one generation at a time per loaded model (a queue, never overlap);
 * - cancel is interruptGenerate() and then draining the stream to its end (breaking out of the
 *   loop leaves the engine locked), reported as finish_reason "abort";
 * - a lost device or out-of-memory recreates the engine and fails only the request in flight;
 * - shader-f16 is checked on the adapter here, since the prebuilt list does not always say;
 * - storage is checked before download, with a clear quota error and `repair` for a half-download;
 * - the chat is reset before every request, and requests are mapped to what WebLLM accepts
 *   (webllm-request.ts, webllm-run.ts).
 * Loaded as an audit reference (`reference: true`), it scores tokens by teacher forcing.
 */
export interface WebLlmEngineOptions {
  readonly selfHosted?: readonly SelfHostedModel[];
  /**
   * An audit reference: each model loads with the forcing processor (webllm-forcing-channel.ts),
   * so `score` forces the given tokens. It slows every generation of the model (WebLLM copies
   * the logits to the CPU at each token), so a provider page leaves it off and scores along the
   * greedy path (webllm-score.ts).
   */
  readonly reference?: boolean;
  /** Creates the worker; pages pass `() => new Worker(new URL("./webllm.worker.ts", import.meta.url), { type: "module" })`. */
  readonly createWorker: () => Worker;
}

export class WebLlmEngine implements Engine {
  private engine: WebWorkerMLCEngine | undefined;
  private worker: Worker | undefined;
  private model: string | undefined;
  private forcing: WorkerForcing | undefined;
  private tokenizer: { readonly model: string; readonly codec: Promise<TokenCodec> } | undefined;
  private readonly queue = new SerialQueue();
  private config: AppConfig;
  private selfHostedIds: ReadonlySet<string>;

  constructor(private readonly opts: WebLlmEngineOptions) {
    this.config = appConfigWith(prebuiltAppConfig, opts.selfHosted ?? []);
    this.selfHostedIds = new Set((opts.selfHosted ?? []).map((m) => m.modelId));
  }

  /** WebLLM's list with the self-hosted models in front (they replace prebuilt ones of the same id). */
  get appConfig(): AppConfig {
    return this.config;
  }

  /** Replaces the self-hosted models (the provider page's form); the loaded model runs on. */
  useSelfHosted(models: readonly SelfHostedModel[]): void {
    this.config = appConfigWith(prebuiltAppConfig, models);
    this.selfHostedIds = new Set(models.map((m) => m.modelId));
  }

  async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    const record = this.appConfig.model_list.find((r) => r.model_id === model);
    if (!record)
      throw new EngineError("load", `unknown model ${model}: not in WebLLM's list nor self-hosted`);
    const gpu = await gpuFacts();
    const fit = modelFits(requirementOf(record), gpu);
    if (!fit.fits) throw new EngineError("unsupported", `${model} ${fit.reason}`);
    if (!(await hasModelInCache(model, this.appConfig))) await checkStorage(record.vram_required_MB);
    await this.unload();
    this.worker = this.opts.createWorker();
    if (this.opts.reference) this.forcing = new WorkerForcing(this.worker, model);
    try {
      this.engine = await CreateWebWorkerMLCEngine(this.worker, model, {
        appConfig: this.appConfig,
        initProgressCallback: (r) => onProgress?.({ progress: r.progress, text: r.text }),
      });
      this.model = model;
    } catch (cause) {
      await this.unload();
      const download = downloadFailure(record.model, cause, this.selfHostedIds.has(model));
      if (download) throw new EngineError("download", `could not load ${model}: ${download}`, { cause });
      throw new EngineError("load", `could not load ${model}: ${describe(cause)}`, { cause });
    }
  }

  generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return this.queue.run(() => this.run(request, onChunk, signal));
  }

  /** Embeds with a loaded embedding model, in the same queue as generations (WebLLM runs one at a time). */
  embed(request: EmbedParams, signal?: AbortSignal): Promise<EmbedResult> {
    return this.queue.run(() =>
      this.guarded(request.model, (engine) => runWebLlmEmbed(engine, request, signal)),
    );
  }

  /**
   * Scores tokens by teacher forcing on a reference engine (webllm-forced-score.ts), else along
   * the model's greedy path (webllm-score.ts); in the same queue as generations.
   */
  score(request: EngineRequest, tokens: readonly string[], signal?: AbortSignal): Promise<ScoreResult> {
    return this.queue.run(() =>
      this.guarded(request.model, (engine) => {
        const forcing = this.forcing;
        if (!forcing) return scoreWebLlm(engine, request, tokens, signal);
        const codec = () => this.modelTokenizer(request.model);
        return scoreWebLlmForced(engine, forcing, codec, request, tokens, signal);
      }),
    );
  }

  /** The loaded model's tokenizer, made once per model (a failed load is retried next time). */
  private modelTokenizer(model: string): Promise<TokenCodec> {
    if (this.tokenizer?.model !== model) {
      const record = this.appConfig.model_list.find((r) => r.model_id === model);
      if (!record) return Promise.reject(new Error(`${model} is not in the model list`));
      const codec = import("./webllm-tokenizer").then((m) => m.loadModelTokenizer(record.model));
      codec.catch(() => {
        if (this.tokenizer?.codec === codec) this.tokenizer = undefined;
      });
      this.tokenizer = { model, codec };
    }
    return this.tokenizer.codec;
  }

  private run(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return this.guarded(request.model, (engine) => runWebLlm(engine, request, onChunk, signal));
  }

  /** Runs on the loaded model; a lost device recreates the engine and fails only this call. */
  private async guarded<T>(model: string, call: (engine: WebWorkerMLCEngine) => Promise<T>): Promise<T> {
    const engine = this.engine;
    if (!engine || this.model !== model) throw new EngineError("not-loaded", `model ${model} is not loaded`);
    try {
      return await call(engine);
    } catch (cause) {
      if (cause instanceof EngineError) throw cause;
      if (isDeviceLoss(cause)) {
        await this.recreate();
        throw new EngineError(
          "device-lost",
          "the GPU was lost or ran out of memory; the model is reloading",
          {
            cause,
          },
        );
      }
      throw new EngineError("backend", `generation failed: ${describe(cause)}`, { cause });
    }
  }

  /** Deletes a model's cached weights and library, to repair a half-finished download. */
  async repair(model: string): Promise<void> {
    if (this.model === model) await this.unload();
    await deleteModelAllInfoInCache(model, this.appConfig);
  }

  isCached(model: string): Promise<boolean> {
    return hasModelInCache(model, this.appConfig);
  }

  async unload(): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    this.model = undefined;
    await engine?.unload().catch(() => undefined);
    this.forcing?.close();
    this.forcing = undefined;
    this.worker?.terminate();
    this.worker = undefined;
  }

  async device(): Promise<DeviceReport> {
    const gpu = await gpuFacts();
    return { backend: "webgpu", adapter: gpu.adapter, shaderF16: gpu.shaderF16, memoryMB: gpu.maxBufferMB };
  }

  loadedModels(): readonly string[] {
    return this.model ? [this.model] : [];
  }

  private async recreate(): Promise<void> {
    const model = this.model;
    await this.unload();
    if (model) await this.load(model).catch(() => undefined);
  }
}

async function checkStorage(requiredMB: number | undefined): Promise<void> {
  if (!navigator.storage?.estimate) return;
  await navigator.storage.persist?.().catch(() => false);
  const { quota = 0, usage = 0 } = await navigator.storage.estimate();
  const freeMB = Math.floor((quota - usage) / (1024 * 1024));
  if (requiredMB && freeMB < requiredMB) {
    throw new EngineError(
      "quota",
      `the model needs about ${Math.ceil(requiredMB)} MB of storage and this site may use ${freeMB} MB more; free space or delete cached models`,
    );
  }
}

function isDeviceLoss(err: unknown): boolean {
  const name = err instanceof Error ? err.name : "";
  const message = err instanceof Error ? err.message : String(err);
  return name === "DeviceLostError" || /device (was )?lost|out of memory|OOM/i.test(message);
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
