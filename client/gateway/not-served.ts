import { HttpError } from "./http-errors";

/**
 * OpenAI endpoints a program may try that the gateway does not serve, answered with a reason
 * rather than "no route": what providers do not offer (legacy completions, images, audio,
 * moderations, files and what runs on them), and what would read back stored state, which Silk
 * never keeps (`openai.responses.retrieve`, stored chat completions).
 */
const NOT_OFFERED = [
  "/v1/completions",
  "/v1/images",
  "/v1/audio",
  "/v1/moderations",
  "/v1/files",
  "/v1/uploads",
  "/v1/batches",
  "/v1/fine_tuning",
  "/v1/assistants",
  "/v1/threads",
  "/v1/vector_stores",
  "/v1/realtime",
  "/v1/containers",
  "/v1/evals",
  "/v1/videos",
  // Under /v1/responses but storing nothing: counting a prompt's tokens, compacting a conversation.
  "/v1/responses/input_tokens",
  "/v1/responses/compact",
];

/** Routes under a served one that read or change what was stored: the reason each is empty. */
const NEVER_STORED: readonly (readonly [string, string])[] = [
  ["/v1/responses/", "responses are never stored, so there is none to retrieve, cancel or delete"],
  ["/v1/conversations", "responses are never stored, so there are no conversations"],
  ["/v1/chat/completions/", "chat completions are never stored, so there is none to list or retrieve"],
];

const under = (path: string, prefix: string) =>
  prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix || path.startsWith(`${prefix}/`);

/** The 404 for an OpenAI endpoint the gateway does not serve, saying why; undefined for any other path. */
export function notServed(path: string): HttpError | undefined {
  if (NOT_OFFERED.some((p) => under(path, p)))
    return new HttpError(
      404,
      "invalid_request_error",
      "unsupported_endpoint",
      `${path} is not served by Silk's providers yet; use /v1/chat/completions, /v1/responses or /v1/embeddings`,
    );
  const stored = NEVER_STORED.find(([p]) => under(path, p));
  if (stored) return new HttpError(404, "invalid_request_error", "not_found", `${path}: ${stored[1]}`);
  return undefined;
}
