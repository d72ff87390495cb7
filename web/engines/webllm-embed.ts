import type * as webllm from "@mlc-ai/web-llm";
import type { EmbedParams } from "../../protocol/schemas/embedding";
import { type EmbedResult, EngineError } from "./engine";

/** The part of WebLLM's `MLCEngineInterface` an embedding uses (the worker engine has it too). */
export interface MlcEmbed {
  readonly embeddings: {
    create(r: webllm.EmbeddingCreateParams): Promise<webllm.CreateEmbeddingResponse>;
  };
}

/**
 * A Silk embeddings request in the form WebLLM's `engine.embeddings.create` takes (its embedding
 * `postInitAndCheckFields`): it throws on `dimensions` and `user` and on base64 output, so
 * `dimensions` is refused here by name (WebLLM cannot shorten a vector), `user` is left out (it has
 * no use for it), and floats are asked for (they travel as base64 on the wire anyway).
 */
export function webLlmEmbedRequest(r: EmbedParams): webllm.EmbeddingCreateParams {
  if (r.dimensions !== undefined)
    throw new EngineError(
      "unsupported",
      "dimensions: WebLLM's embedding models do not shorten their vectors",
    );
  return { input: [...r.input], model: r.model };
}

/**
 * One embeddings call on a loaded WebLLM embedding model. No chat reset: an embedding pipeline has
 * no chat (WebLLM's resetChat would throw on it). WebLLM answers the whole batch at once; a cancel
 * cannot stop it, so the answer is dropped instead. Usage's prompt_tokens is what it tokenized.
 */
export async function runWebLlmEmbed(
  engine: MlcEmbed,
  r: EmbedParams,
  signal?: AbortSignal,
): Promise<EmbedResult> {
  const params = webLlmEmbedRequest(r);
  const res = await engine.embeddings.create(params);
  if (signal?.aborted) throw new EngineError("backend", "cancelled");
  const vectors: (number[] | undefined)[] = Array.from(r.input, () => undefined);
  for (const d of res.data) vectors[d.index] = d.embedding;
  if (res.data.length !== r.input.length || vectors.some((x) => x === undefined))
    throw new EngineError(
      "backend",
      `WebLLM made ${res.data.length} embeddings for ${r.input.length} inputs`,
    );
  return { vectors: vectors as number[][], promptTokens: res.usage.prompt_tokens };
}
