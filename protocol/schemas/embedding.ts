import * as v from "valibot";
import { MalformedMessageError } from "../errors";
import { MAX_EMBED_DIMENSIONS, MAX_EMBED_INPUTS, MAX_SESSION_MESSAGE_BYTES } from "../limits";
import { Id, IntegerIn, ModelId, Version } from "./common";

/**
 * Embeddings inside an encrypted session: a request kind of its own, served only by providers
 * that declare the `embeddings` feature for the model. The answer is one `embedding` message per
 * input (so a large batch never makes one huge message), then `done` with the prompt tokens, which
 * are what an embedding is billed for. Vectors travel as base64 of little-endian float32, as
 * OpenAI's `encoding_format: "base64"` does.
 */
export const EmbedRequest = v.strictObject({
  v: Version,
  t: v.literal("embed"),
  id: Id,
  model: ModelId,
  input: v.pipe(
    v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_SESSION_MESSAGE_BYTES))),
    v.minLength(1),
    v.maxLength(MAX_EMBED_INPUTS),
  ),
  dimensions: v.optional(IntegerIn(1, MAX_EMBED_DIMENSIONS)),
  user: v.optional(v.pipe(v.string(), v.maxLength(256))),
});

/** The most base64 characters a vector of MAX_EMBED_DIMENSIONS float32 takes. */
const MAX_VECTOR_CHARS = Math.ceil((MAX_EMBED_DIMENSIONS * 4) / 3) + 4;

export const EmbeddingMessage = v.object({
  v: Version,
  t: v.literal("embedding"),
  id: Id,
  index: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_EMBED_INPUTS - 1)),
  vector: v.pipe(
    v.string(),
    v.minLength(4),
    v.maxLength(MAX_VECTOR_CHARS),
    v.regex(/^[A-Za-z0-9+/]*={0,2}$/),
  ),
});

export type EmbedRequest = v.InferOutput<typeof EmbedRequest>;
export type EmbeddingMessage = v.InferOutput<typeof EmbeddingMessage>;

/** An embeddings request's parameters as both ends use them: the request without its envelope. */
export type EmbedParams = Omit<EmbedRequest, "v" | "t" | "id">;

/** A vector as little-endian float32 in base64 (OpenAI's `encoding_format: "base64"`). */
export function vectorToBase64(vector: ArrayLike<number>): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The inverse of vectorToBase64; a length that is not whole float32s or a non-finite value is refused. */
export function vectorFromBase64(text: string): Float32Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (cause) {
    throw new MalformedMessageError("an embedding is not valid base64", { cause });
  }
  if (binary.length === 0 || binary.length % 4 !== 0)
    throw new MalformedMessageError("an embedding is not a whole number of float32 values");
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const out = new Float32Array(binary.length / 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = view.getFloat32(i * 4, true);
    if (!Number.isFinite(out[i]))
      throw new MalformedMessageError("an embedding holds a value that is not finite");
  }
  return out;
}
