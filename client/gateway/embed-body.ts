import { emptyValue, missingMessage, wrongTypeMessage } from "../sdk/chat-input";
import type { EmbeddingCreateParams } from "../sdk/embeddings";
import { invalidRequest } from "./http-errors";

/**
 * The body of POST /v1/embeddings: every OpenAI field is carried or refused by name. Values are
 * checked by the SDK against the session's own schema (client/sdk/embeddings.ts).
 */
const CARRIED = ["model", "input", "encoding_format", "dimensions", "user"] as const;

export function parseEmbedBody(json: unknown): EmbeddingCreateParams {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalidRequest("invalid_value", "the body must be a JSON object");
  const body = json as Record<string, unknown>;
  for (const [key, value] of Object.entries(body))
    if (!(CARRIED as readonly string[]).includes(key) && value !== null)
      throw invalidRequest(
        "unsupported_parameter",
        `${key}: Silk does not carry this field, and will not drop it silently`,
        key,
      );
  if (body.model === undefined)
    throw invalidRequest("missing_required_parameter", missingMessage("model"), "model");
  if (body.model === "") {
    const { message, code } = emptyValue("model", body.model);
    throw invalidRequest(code, message, "model");
  }
  if (typeof body.model !== "string")
    throw invalidRequest("invalid_type", wrongTypeMessage("model", "a string", body.model), "model");
  if (body.input === undefined || body.input === null)
    throw invalidRequest("missing_required_parameter", missingMessage("input"), "input");
  return {
    model: body.model,
    input: body.input as EmbeddingCreateParams["input"],
    ...(body.encoding_format != null && {
      encoding_format: body.encoding_format as EmbeddingCreateParams["encoding_format"],
    }),
    ...(body.dimensions != null && { dimensions: body.dimensions as number }),
    ...(body.user != null && { user: body.user as string }),
  };
}
