import type { SelfHostedModel } from "../../web/engines/model-catalog";

/**
 * The location of a model whose weights the operator hosts (a network that blocks Hugging Face,
 * or weights kept in-house), as typed into the provider page: checked here, pure, before it is
 * saved and listed.
 */
export interface SelfHostedInput {
  readonly modelId: string;
  readonly modelUrl: string;
  readonly modelLibUrl: string;
}

/** The checked location, or the first problem in words a provider can act on. */
export function parseSelfHosted(
  input: SelfHostedInput,
): { ok: true; model: SelfHostedModel } | { ok: false; field: keyof SelfHostedInput; problem: string } {
  const modelId = input.modelId.trim();
  if (!/^[A-Za-z0-9][\w.-]{0,127}$/.test(modelId))
    return {
      ok: false,
      field: "modelId",
      problem:
        "a model id is letters, digits, '.', '_' and '-', as WebLLM names it (like Llama-3.2-1B-Instruct-q4f32_1-MLC)",
    };
  const weights = fetchableUrl(input.modelUrl);
  if (typeof weights === "string")
    return { ok: false, field: "modelUrl", problem: `the weights URL ${weights}` };
  const lib = fetchableUrl(input.modelLibUrl);
  if (typeof lib === "string") return { ok: false, field: "modelLibUrl", problem: `the library URL ${lib}` };
  if (!lib.pathname.endsWith(".wasm"))
    return {
      ok: false,
      field: "modelLibUrl",
      problem: "the library URL must name the model's compiled library, a .wasm file",
    };
  // WebLLM appends `resolve/main/<file>` to the weights' base: it must end with a slash.
  const modelUrl = weights.href.endsWith("/") ? weights.href : `${weights.href}/`;
  return { ok: true, model: { modelId, modelUrl, modelLibUrl: lib.href } };
}

/** https anywhere; plain http only on this machine (a browser blocks it from an https page). */
function fetchableUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return "is not a full URL (https://…)";
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname)) return url;
  return "must start with https:// (plain http only for localhost)";
}

/** The saved list with `model` in place of any model of the same id (last saved first). */
export function withSelfHosted(list: readonly SelfHostedModel[], model: SelfHostedModel): SelfHostedModel[] {
  return [model, ...list.filter((m) => m.modelId !== model.modelId)];
}
