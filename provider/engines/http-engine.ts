import type { EmbedParams } from "../../protocol/schemas/embedding";
import type {
  ChunkSink,
  DeviceReport,
  EmbedResult,
  Engine,
  EngineRequest,
  EngineResult,
} from "../../web/engines/engine";
import { EngineError } from "../../web/engines/engine";
import { consumeChunks, type OpenAiChunkLike, openAiParams } from "../../web/engines/openai-chunks";
import { backendEmbeddings } from "./http-embeddings";
import { sseData } from "./sse";

/**
 * An engine in front of any OpenAI-compatible server (llama.cpp's server, Ollama, vLLM), so a
 * native GPU server joins the network through the headless provider. Streams with
 * `stream_options.include_usage` and takes token counts from the server's usage.
 *
 * Each streamed chunk with text counts as one token (servers stream token by token). A server
 * that groups tokens per chunk is billed for fewer tokens than it made, never more: the requester
 * cannot check more than one token per byte of text anyway.
 */
export interface HttpEngineOptions {
  /** For example http://127.0.0.1:8080/v1 */
  readonly baseUrl: string;
  readonly apiKey?: string;
  /** Name the model by on the backend, when it differs from the network's model id. */
  readonly backendModel?: (model: string) => string;
  /**
   * How long `load` waits for the backend's model list (`GET /models`, its body included); default
   * `LOAD_TIMEOUT_MS`. Without it a backend that takes the connection and never answers held the
   * provider's start for fetch's own 300 s, saying nothing.
   */
  readonly loadTimeoutMs?: number;
}

/** A model list is one small JSON body: a backend up answers it at once, even mid-generation. */
export const LOAD_TIMEOUT_MS = 10_000;

/**
 * The backend's chunks. What is not an answer's whole stream is the backend failing, never an
 * answer: a body that is not events (a server that ignored `stream: true`, an HTML error page), an
 * `error` event (vLLM's and llama.cpp's way to fail mid-answer), and a stream that ends with neither
 * a finish reason nor `[DONE]` (a backend gone mid-answer). Each was an answer cut short, or
 * empty, ending "stop" as if whole.
 */
async function* parseEvents(
  res: Response & { body: ReadableStream<Uint8Array> },
): AsyncGenerator<OpenAiChunkLike> {
  const type = res.headers.get("content-type") ?? "";
  if (!type.includes("text/event-stream"))
    throw new EngineError(
      "backend",
      `backend answered ${type || "a body of no type"}, not an event stream: it did not stream the answer`,
    );
  let finished = false;
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data) as OpenAiChunkLike & { error?: unknown };
    if (chunk.error != null)
      throw new EngineError("backend", `backend failed mid-answer: ${backendWords(chunk.error)}`);
    if (chunk.choices?.some((c) => c.finish_reason)) finished = true;
    yield chunk;
  }
  if (!finished)
    throw new EngineError(
      "backend",
      "backend stream ended before the answer did (no finish reason, no [DONE])",
    );
}

export class HttpEngine implements Engine {
  private readonly loaded = new Set<string>();
  private readonly baseUrl: string;

  constructor(private readonly opts: HttpEngineOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
  }

  async load(model: string, onProgress?: (p: { progress: number; text: string }) => void): Promise<void> {
    onProgress?.({ progress: 0, text: `asking ${this.baseUrl} for ${model}` });
    const ms = this.opts.loadTimeoutMs ?? LOAD_TIMEOUT_MS;
    const deadline = AbortSignal.timeout(ms);
    const late = (cause: unknown) =>
      deadline.aborted
        ? new EngineError(
            "backend",
            `the backend at ${this.baseUrl} did not answer GET /models within ${ms} ms`,
            {
              cause,
            },
          )
        : undefined;
    const res = await this.fetch("/models", { method: "GET", signal: deadline }).catch((cause: unknown) => {
      throw (
        late(cause) ?? new EngineError("backend", `cannot reach the backend at ${this.baseUrl}`, { cause })
      );
    });
    if (!res.ok) {
      // `--backend http://127.0.0.1:11434` for Ollama's `/v1`: the commonest slip, named.
      const hint =
        res.status === 404 && !/\/v1$/.test(this.baseUrl)
          ? `: OpenAI-compatible servers answer under /v1 (--backend ${this.baseUrl}/v1)`
          : "";
      throw new EngineError("backend", `backend answered ${res.status} to GET ${this.baseUrl}/models${hint}`);
    }
    const body = (await res.json().catch((cause: unknown) => {
      throw late(cause) ?? cause;
    })) as { data?: { id?: string }[] };
    const wanted = this.backendModel(model);
    const ids = (body.data ?? []).map((m) => m.id);
    if (!ids.includes(wanted)) {
      throw new EngineError(
        "load",
        `backend does not serve ${wanted} (it serves: ${ids.slice(0, 10).join(", ")})`,
      );
    }
    this.loaded.add(model);
    onProgress?.({ progress: 1, text: "ready" });
  }

  async generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    if (!this.loaded.has(request.model))
      throw new EngineError("not-loaded", `model ${request.model} is not loaded`);
    let streamed = 0;
    const counting: ChunkSink = (c) => {
      streamed += c.tokens;
      return onChunk(c);
    };
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const res = await this.fetch("/chat/completions", {
        method: "POST",
        signal: controller.signal,
        body: JSON.stringify({ model: this.backendModel(request.model), ...openAiParams(request) }),
      });
      if (!res.ok || !res.body) throw await refusal(res);
      return await consumeChunks(
        parseEvents(res as Response & { body: ReadableStream<Uint8Array> }),
        counting,
        signal,
      );
    } catch (err) {
      // Cancelling aborts the HTTP stream itself, which is how the backend learns to stop.
      if (signal?.aborted) return { finishReason: "abort", promptTokens: 0, completionTokens: streamed };
      throw err instanceof EngineError
        ? err
        : new EngineError("backend", "backend stream failed", { cause: err });
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async embed(request: EmbedParams, signal?: AbortSignal): Promise<EmbedResult> {
    if (!this.loaded.has(request.model))
      throw new EngineError("not-loaded", `model ${request.model} is not loaded`);
    const post = (path: string, body: unknown, s?: AbortSignal) =>
      this.fetch(path, { method: "POST", body: JSON.stringify(body), ...(s && { signal: s }) });
    return backendEmbeddings(post, this.backendModel(request.model), request, signal);
  }

  async unload(): Promise<void> {
    this.loaded.clear();
  }

  async device(): Promise<DeviceReport> {
    return { backend: "http", adapter: `OpenAI-compatible server at ${new URL(this.baseUrl).host}` };
  }

  loadedModels(): readonly string[] {
    return [...this.loaded];
  }

  private backendModel(model: string): string {
    return this.opts.backendModel ? this.opts.backendModel(model) : model;
  }

  private fetch(path: string, init: RequestInit): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
      },
    });
  }
}

/** What llama.cpp, vLLM and OpenAI-compatible servers say of a prompt longer than the context. */
const CONTEXT_REFUSAL = /context|maximum.{0,20}length|too long|exceed/i;

/**
 * The backend's refusal of a chat request, with its own words (trimmed: a provider's backend,
 * never the requester's data): a prompt over the context window is the request's fault, not the
 * provider's, and is told as such so clients do not retry it elsewhere.
 */
async function refusal(res: Response): Promise<EngineError> {
  const text = (await res.text().catch(() => "")).slice(0, 4_000);
  let said = text;
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    said = backendWords(body.error ?? body.message, text);
  } catch {
    // not JSON: the text as it came
  }
  said = said.replace(/\s+/g, " ").trim().slice(0, 200);
  if ([400, 413, 422].includes(res.status) && CONTEXT_REFUSAL.test(said))
    return new EngineError(
      "context",
      `messages: the prompt does not fit the model's context window (${said})`,
    );
  return new EngineError("backend", `backend answered ${res.status}${said ? `: ${said}` : ""}`);
}

/** A backend's error in its own words, trimmed: `{ message }`, or a string (`otherwise` else). */
function backendWords(error: unknown, otherwise = "no reason given"): string {
  const message =
    typeof error === "object" && error !== null ? (error as { message?: unknown }).message : error;
  return typeof message === "string" ? message.replace(/\s+/g, " ").trim().slice(0, 200) : otherwise;
}
