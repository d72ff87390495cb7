import type { ModelSupport } from "../../protocol";
import type { Engine } from "./engine";
import type { FitVerdict, SelfHostedModel } from "./model-catalog";

/**
 * Where the provider page gets its engine and model list. The production build uses WebLLM on
 * WebGPU (`engine-source.ts`); browser tests build the page with a test source swapped in for that
 * one module, so nothing else on the page knows which it runs.
 */
export interface GpuFacts {
  readonly adapter: string;
  readonly shaderF16: boolean;
  readonly maxBufferMB: number;
}

export type GpuCheck =
  | { readonly ok: true; readonly facts: GpuFacts }
  | { readonly ok: false; readonly reason: string; readonly advice: readonly string[] };

export interface ModelOption {
  readonly id: string;
  /** Where its weights come from, for a self-hosted model. */
  readonly selfHostedAt?: string;
  /** GPU memory it needs, when the catalog says. */
  readonly vramMB?: number;
  readonly fit: FitVerdict;
  readonly cached: boolean;
  /** What it supports beyond plain chat, declared when the page registers it. */
  readonly support?: ModelSupport;
}

export interface EngineSource {
  /** What runs the models, shown on the page ("WebLLM on WebGPU"). */
  readonly label: string;
  check(): Promise<GpuCheck>;
  /** Every model it can load, the self-hosted ones (`selfHost`) included. */
  models(facts: GpuFacts): Promise<ModelOption[]>;
  /**
   * Whether `model` can run on this device, from what the source knows without loading its engine
   * (no download); undefined when it cannot run that model at all.
   */
  fit(model: string, facts: GpuFacts): Promise<FitVerdict | undefined>;
  /** Models whose weights the operator hosts: listed and loaded from their own location from now on. */
  selfHost(models: readonly SelfHostedModel[]): void;
  readonly engine: Engine;
  /** Deletes a half-downloaded model so the next load starts clean. */
  repair(model: string): Promise<void>;
}
