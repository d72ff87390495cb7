import type { ChatParams } from "../../protocol/schemas/session";
import type { ChunkSink, EngineResult, LoadProgress, ScoreResult } from "../../web/engines/engine";
import type { EngineSource } from "../../web/engines/engine-source-types";

/** Whether this device can run a model, by the provider page's own check (WebGPU, memory, shader-f16). */
export type LocalFit =
  | { readonly model: string; readonly fits: true; readonly needMB?: number }
  | { readonly model: string; readonly fits: false; readonly reason: string };

/**
 * The requester's own device as the engine (issue 16, local-first): when its GPU can run the
 * chosen model, the question is answered here, so nothing leaves the device and nothing is paid,
 * and the same engine is the requester's audit reference. The engine source is the provider
 * page's as an audit reference (web/engines/engine-source.ts `referenceEngineSource`: WebLLM on
 * WebGPU, a lazy chunk, scoring by teacher forcing), so one check decides what fits on both pages.
 */
export class LocalDevice {
  private source: Promise<EngineSource> | undefined;
  private loaded: string | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly loadSource: () => Promise<EngineSource> = () =>
      import("../../web/engines/engine-source").then((m) => m.referenceEngineSource),
  ) {}

  private engineSource(): Promise<EngineSource> {
    this.source ??= this.loadSource();
    this.source.catch(() => {
      this.source = undefined;
    });
    return this.source;
  }

  /**
   * Whether `model` fits this device: the GPU's facts against the source's own table, so choosing
   * a model never downloads the engine's code (only answering here does).
   */
  async fit(model: string): Promise<LocalFit> {
    const source = await this.engineSource();
    const gpu = await source.check();
    if (!gpu.ok) return { model, fits: false, reason: gpu.reason };
    const fit = await source.fit(model, gpu.facts);
    if (!fit) return { model, fits: false, reason: `${model} is not a model this browser can run` };
    if (!fit.fits) return { model, fits: false, reason: fit.reason };
    return { model, fits: true, ...(fit.needMB && { needMB: fit.needMB }) };
  }

  /** Loads `model` once (the weights are cached by the browser after the first download). */
  private async ready(model: string, onProgress?: (p: LoadProgress) => void): Promise<EngineSource> {
    const source = await this.engineSource();
    if (this.loaded !== model) {
      this.loading ??= source.engine.load(model, onProgress).then(
        () => {
          this.loaded = model;
          this.loading = undefined;
        },
        (err: unknown) => {
          this.loading = undefined;
          throw err;
        },
      );
      await this.loading;
    }
    return source;
  }

  /** Answers on this device: no signaling, no provider, no receipt. */
  async answer(
    request: ChatParams,
    onChunk: ChunkSink,
    signal: AbortSignal,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<EngineResult> {
    const source = await this.ready(request.model, onProgress);
    return source.engine.generate(request, onChunk, signal);
  }

  /** This device's engine scoring an audited answer's tokens (client/sdk/audit-reference.ts `engineReference`). */
  async score(request: ChatParams, tokens: readonly string[]): Promise<ScoreResult> {
    const source = await this.ready(request.model);
    if (!source.engine.score) throw new Error("this device's engine cannot score tokens");
    return source.engine.score(request, tokens);
  }
}
