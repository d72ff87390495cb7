import type { TokenCodec } from "./forced-token-ids";

/**
 * The model's own tokenizer, for teacher forcing (forced-token-ids.ts): WebLLM keeps its
 * tokenizer private, so a second copy is made from the same `tokenizer.json`, with the library
 * WebLLM bundles for it (`@mlc-ai/web-tokenizers`: HF tokenizers compiled to wasm, the wasm
 * inlined in its ~4.7 MB of JS). Both load lazily, only when a reference engine first scores
 * tokens: never in a page's first download. The file is read from WebLLM's own Cache Storage
 * ("webllm/model", where `reload` put it) and fetched from the model's location otherwise.
 */
export async function loadModelTokenizer(modelUrl: string, timeoutMs = 30_000): Promise<TokenCodec> {
  const url = new URL("tokenizer.json", webLlmModelBase(modelUrl)).href;
  const signal = AbortSignal.timeout(timeoutMs);
  const cached = await caches
    ?.open("webllm/model")
    .then((c) => c.match(url))
    .catch(() => undefined);
  const response = cached ?? (await fetch(url, { signal }));
  if (!response.ok) throw new Error(`tokenizer.json: ${response.status} from ${url.slice(0, 200)}`);
  const json = await response.arrayBuffer();
  // A UMD bundle: Vite's CommonJS interop gives it named exports.
  const { Tokenizer } = await import("@mlc-ai/web-tokenizers");
  return Tokenizer.fromJSON(json);
}

/** WebLLM's `cleanModelUrl`: a Hugging Face repository URL gets `resolve/main/`. */
export function webLlmModelBase(modelUrl: string): string {
  let base = modelUrl.endsWith("/") ? modelUrl : `${modelUrl}/`;
  if (!/.+\/resolve\/.+\//.test(base)) base += "resolve/main/";
  return new URL(base).href;
}
