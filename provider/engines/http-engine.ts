import type { ChunkSink, DeviceReport, Engine, EngineRequest, EngineResult } from "./engine";
import { EngineError } from "./engine";
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
}

interface StreamChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

export class HttpEngine implements Engine {
  private readonly loaded = new Set<string>();
  private readonly baseUrl: string;

  constructor(private readonly opts: HttpEngineOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
  }

  async load(model: string, onProgress?: (p: { progress: number; text: string }) => void): Promise<void> {
    onProgress?.({ progress: 0, text: `asking ${this.baseUrl} for ${model}` });
    const res = await this.fetch("/models", { method: "GET" }).catch((cause: unknown) => {
      throw new EngineError("backend", `cannot reach the backend at ${this.baseUrl}`, { cause });
    });
    if (!res.ok) throw new EngineError("backend", `backend answered ${res.status} to GET /models`);
    const body = (await res.json()) as { data?: { id?: string }[] };
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
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let completion = 0;
    let prompt = 0;
    let finish: EngineResult["finishReason"] = "stop";
    try {
      const res = await this.fetch("/chat/completions", {
        method: "POST",
        signal: controller.signal,
        body: JSON.stringify({
          model: this.backendModel(request.model),
          messages: request.messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(request.max_tokens !== undefined && { max_tokens: request.max_tokens }),
          ...(request.temperature !== undefined && { temperature: request.temperature }),
          ...(request.top_p !== undefined && { top_p: request.top_p }),
          ...(request.seed !== undefined && { seed: request.seed }),
          ...(request.stop !== undefined && { stop: request.stop }),
        }),
      });
      if (!res.ok || !res.body) throw new EngineError("backend", `backend answered ${res.status}`);
      for await (const data of sseData(res.body)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data) as StreamChunk;
        const choice = chunk.choices?.[0];
        const text = choice?.delta?.content;
        if (text) {
          completion++;
          await onChunk({ text, tokens: 1 });
        }
        if (choice?.finish_reason === "length") finish = "length";
        if (chunk.usage) prompt = chunk.usage.prompt_tokens ?? 0;
      }
    } catch (err) {
      if (!signal?.aborted) {
        throw err instanceof EngineError
          ? err
          : new EngineError("backend", "backend stream failed", { cause: err });
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return {
      finishReason: signal?.aborted ? "abort" : finish,
      promptTokens: prompt,
      completionTokens: completion,
    };
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
