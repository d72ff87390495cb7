import { parseWith } from "../protocol/codec";
import { ModelsView } from "../protocol/schemas/signaling";

/**
 * `GET /api/models` from the signaling server, read by both pages: the live directory and the
 * audit counts of the providers registered now (issue 16). CORS-open, so the widget reads it
 * from any page.
 */
export async function fetchModelsView(signalingUrl: string, signal?: AbortSignal): Promise<ModelsView> {
  const res = await fetch(new URL("/api/models", signalingUrl), { signal, cache: "no-store" });
  if (!res.ok) throw new Error(`the directory answered ${res.status}`);
  return parseWith(ModelsView, await res.json(), "directory");
}
