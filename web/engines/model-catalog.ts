import type { AppConfig, ModelRecord } from "@mlc-ai/web-llm";
import type { Feature, ModelSupport } from "../../protocol";
import type { RequirementRow } from "./model-requirements";

/**
 * Where model weights come from: WebLLM's prebuilt list, or a location the operator gives for
 * self-hosted weights (a base URL laid out as Hugging Face's `/resolve/main/`, and the compiled
 * model library). Kept apart from the engine so pages can list models without loading WebLLM's
 * runtime.
 */
export interface SelfHostedModel {
  readonly modelId: string;
  /** Base URL of the weights, e.g. https://models.example.org/Llama-3.2-1B-Instruct-q4f32_1-MLC */
  readonly modelUrl: string;
  /** URL of the model library (.wasm). */
  readonly modelLibUrl: string;
  readonly vramRequiredMB?: number;
  readonly requiredFeatures?: readonly string[];
}

export function selfHostedRecord(m: SelfHostedModel): ModelRecord {
  return {
    model: m.modelUrl,
    model_id: m.modelId,
    model_lib: m.modelLibUrl,
    ...(m.vramRequiredMB !== undefined && { vram_required_MB: m.vramRequiredMB }),
    ...(m.requiredFeatures && { required_features: [...m.requiredFeatures] }),
  };
}

export function appConfigWith(prebuilt: AppConfig, selfHosted: readonly SelfHostedModel[]): AppConfig {
  const own = selfHosted.map(selfHostedRecord);
  const ids = new Set(own.map((r) => r.model_id));
  return { ...prebuilt, model_list: [...own, ...prebuilt.model_list.filter((r) => !ids.has(r.model_id))] };
}

/**
 * The prebuilt list does not always declare `shader-f16` for f16 models, so infer it from the
 * quantisation in the id too (q4f16_1, q0f16, …).
 */
export function needsShaderF16(record: ModelRecord): boolean {
  return (record.required_features ?? []).includes("shader-f16") || /q\d+f16/.test(record.model_id);
}

/**
 * What a model needs of a device, all the fit check reads: our own table has it for WebLLM's
 * prebuilt chat models (model-requirements.ts, so the check needs no WebLLM download), and
 * `requirementOf` reads it from any WebLLM record (a self-hosted model's, say).
 */
export interface ModelRequirement {
  /** GPU memory it needs, MB (rounded up), when the catalog says. */
  readonly vramMB?: number;
  readonly shaderF16: boolean;
  readonly contextWindow?: number;
}

export function requirementOf(record: ModelRecord): ModelRequirement {
  const window = record.overrides?.context_window_size;
  return {
    ...(record.vram_required_MB !== undefined && { vramMB: Math.ceil(record.vram_required_MB) }),
    shaderF16: needsShaderF16(record),
    ...(window && window > 0 ? { contextWindow: window } : {}),
  };
}

/** A row of our own table (model-requirements.ts) as a requirement. */
export function requirementOfRow([vramMB, shaderF16, contextWindow]: RequirementRow): ModelRequirement {
  return {
    ...(vramMB !== null && { vramMB }),
    shaderF16,
    ...(contextWindow !== null && { contextWindow }),
  };
}

/** The requirements of every chat model (embedding models are not answered on a device) in a WebLLM config. */
export function requirementsOf(config: AppConfig): Record<string, ModelRequirement> {
  return Object.fromEntries(
    config.model_list
      .filter((r) => (r.model_type as number | undefined) !== MODEL_TYPE.embedding)
      .map((r) => [r.model_id, requirementOf(r)]),
  );
}

/** Whether a model fits; when it does, the GPU memory it needs (MB) when known, which bounds its download. */
export type FitVerdict = { fits: true; needMB?: number } | { fits: false; reason: string };

/** Whether a model can run on a device, and if not, the reason a user can act on. */
export function modelFits(
  need: ModelRequirement,
  device: { shaderF16: boolean; maxBufferMB?: number; memoryMB?: number },
): FitVerdict {
  if (need.shaderF16 && !device.shaderF16) {
    return {
      fits: false,
      reason: "needs shader-f16, which this GPU (or browser) does not offer; pick an f32 model",
    };
  }
  if (need.vramMB && device.memoryMB && need.vramMB > device.memoryMB) {
    return {
      fits: false,
      reason: `needs about ${need.vramMB} MB of GPU memory; this device reports ${device.memoryMB} MB`,
    };
  }
  return { fits: true, ...(need.vramMB && { needMB: need.vramMB }) };
}

/** WebLLM's `ModelType` values (kept here so listing models does not load WebLLM's runtime). */
const MODEL_TYPE = { LLM: 0, embedding: 1, VLM: 2 } as const;

/**
 * What a WebLLM model supports, declared when the page registers it: every chat model takes JSON
 * mode and schemas (xgrammar), returns logprobs and scores tokens along its greedy path
 * (`scoring`, webllm-score.ts); only WebLLM's function-calling models (Hermes
 * 2 Pro and Hermes 3, its `functionCallingModelIds`) take tools; vision models take image parts.
 */
export function webLlmSupport(record: ModelRecord): ModelSupport {
  const type = (record.model_type as number | undefined) ?? MODEL_TYPE.LLM;
  if (type === MODEL_TYPE.embedding) return { features: ["embeddings"] };
  const features: Feature[] = ["structured_output", "logprobs", "scoring"];
  if (/^Hermes-(2-Pro|3)-/.test(record.model_id)) features.push("tools");
  if (type === MODEL_TYPE.VLM) features.push("vision");
  const window = requirementOf(record).contextWindow;
  return { features, ...(window !== undefined && { contextWindow: window }) };
}

/**
 * When a load failed because the model's files could not be fetched (offline, a blocked or
 * unreachable host, a missing file), what to tell the provider instead of the browser's bare
 * "Failed to fetch", with the fix that fits where the weights come from; undefined for any other
 * failure. Deleting the download would not help here.
 */
export function downloadFailure(modelUrl: string, cause: unknown, selfHosted = false): string | undefined {
  const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  if (
    !/failed to fetch|networkerror|load failed|network error|err_|status(?: code)?:? ?[45]\d\d|\b(403|404|429|50[0-4])\b/i.test(
      text,
    )
  )
    return undefined;
  let host = modelUrl;
  try {
    host = new URL(modelUrl).host;
  } catch {
    // a relative or odd URL: name it as given
  }
  const failed = `the model's files could not be downloaded from ${host} (${text.slice(0, 120)}).`;
  return selfHosted
    ? `${failed} Check that ${host} is up, serves the weights at ${modelUrl.slice(0, 200)} and lets this page fetch them (CORS), or correct the location under "Self-hosted model".`
    : `${failed} Check the connection and try again; if this network blocks ${host}, host the weights yourself and add their location under "Self-hosted model".`;
}
