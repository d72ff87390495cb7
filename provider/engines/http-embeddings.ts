import type { EmbedParams } from "../../protocol/schemas/embedding";
import { type EmbedResult, EngineError } from "../../web/engines/engine";

/**
 * POST /embeddings on an OpenAI-compatible backend (llama.cpp's server, Ollama, vLLM, TEI), asked
 * for floats. `dimensions` is passed through, and a backend that ignores it (answers another
 * length) is a refusal naming `dimensions`, never a vector of the wrong size. Without usage the
 * backend gives nothing to bill by, so that is an error too.
 */
interface EmbeddingsBody {
  data?: { index?: number; embedding?: unknown }[];
  usage?: { prompt_tokens?: number };
}

export async function backendEmbeddings(
  post: (path: string, body: unknown, signal?: AbortSignal) => Promise<Response>,
  backendModel: string,
  r: EmbedParams,
  signal?: AbortSignal,
): Promise<EmbedResult> {
  const res = await post(
    "/embeddings",
    {
      model: backendModel,
      input: r.input,
      encoding_format: "float",
      ...(r.dimensions !== undefined && { dimensions: r.dimensions }),
      ...(r.user !== undefined && { user: r.user }),
    },
    signal,
  ).catch((cause: unknown) => {
    throw new EngineError("backend", "cannot reach the backend for embeddings", { cause });
  });
  if (!res.ok) throw new EngineError("backend", `backend answered ${res.status} to POST /embeddings`);
  const body = (await res.json().catch(() => ({}))) as EmbeddingsBody;
  const vectors: (number[] | undefined)[] = Array.from(r.input, () => undefined);
  for (const [i, d] of (body.data ?? []).entries()) {
    const at = d.index ?? i;
    const e = d.embedding;
    if (!Array.isArray(e) || !e.every((x) => typeof x === "number" && Number.isFinite(x)))
      throw new EngineError("backend", "backend sent an embedding that is not a list of numbers");
    if (at >= 0 && at < vectors.length) vectors[at] = e as number[];
  }
  if (vectors.some((x) => x === undefined) || (body.data?.length ?? 0) !== r.input.length)
    throw new EngineError(
      "backend",
      `backend sent ${body.data?.length ?? 0} embeddings for ${r.input.length} inputs`,
    );
  const sizes = new Set(vectors.map((x) => x!.length));
  if (r.dimensions !== undefined && (sizes.size !== 1 || !sizes.has(r.dimensions)))
    throw new EngineError(
      "unsupported",
      `dimensions: the backend's model does not shorten its embeddings to ${r.dimensions}`,
    );
  const prompt = body.usage?.prompt_tokens;
  if (typeof prompt !== "number" || !Number.isInteger(prompt) || prompt < 0)
    throw new EngineError(
      "backend",
      "backend gave no usage.prompt_tokens for embeddings: nothing to bill by",
    );
  return { vectors: vectors as number[][], promptTokens: prompt };
}
