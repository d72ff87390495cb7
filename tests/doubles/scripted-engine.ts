import { contentText, type LogprobEntry } from "../../protocol";
import type {
  ChunkSink,
  DeviceReport,
  Engine,
  EngineRequest,
  EngineResult,
  LoadProgress,
} from "../../web/engines/engine";
import { SerialQueue } from "../../web/engines/serial-queue";

/**
 * TEST DOUBLE: stands in for a model's weights, which cannot be downloaded here. Deterministic:
 * it answers "Echo: <last user message>" one word per token (or `reply` when given), honours
 * max_tokens, stop and abort, counts prompt tokens as a real tokenizer roughly would, and reports
 * a logprob for each token when asked (a made-up constant: no model stands behind it). Knobs
 * make it misbehave the ways the tests need (slow, over-reporting, failing mid-generation).
 */
export interface ScriptedEngineOptions {
  readonly models?: readonly string[];
  readonly reply?: (request: EngineRequest) => string;
  /** Milliseconds between tokens. */
  readonly tokenDelayMs?: number;
  /** Claims this many tokens per chunk instead of 1 (a dishonest provider). */
  readonly tokensPerChunk?: number;
  /** Reports this many prompt tokens instead of its rough count (a prompt billed at its bound, say). */
  readonly promptTokens?: number;
  /** Streams one byte per chunk instead of a word per chunk (text must be ASCII). */
  readonly bytePerChunk?: boolean;
  /**
   * Throws `error()` once `tokens` chunks have streamed (0: before the first), as an engine that
   * fails mid-generation does (out of memory, its GPU lost, its model unloaded under it); in the
   * first `times` generations only, when given.
   */
  readonly failAfter?: { readonly tokens: number; readonly error: () => unknown; readonly times?: number };
}

export class ScriptedEngine implements Engine {
  private readonly loaded = new Set<string>();
  private readonly queue = new SerialQueue();
  /** Tokens generated so far, across requests: lets tests see that cancel stopped the "GPU". */
  generatedTokens = 0;
  activeGenerations = 0;
  /** Generations `failAfter` failed so far. */
  failures = 0;
  maxConcurrentGenerations = 0;

  constructor(private readonly options: ScriptedEngineOptions = {}) {
    for (const m of options.models ?? ["test-model"]) this.loaded.add(m);
  }

  async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    onProgress?.({ progress: 0, text: "starting" });
    onProgress?.({ progress: 1, text: "ready" });
    this.loaded.add(model);
  }

  generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return this.queue.run(() => this.run(request, onChunk, signal));
  }

  private async run(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    if (!this.loaded.has(request.model)) throw new Error(`model ${request.model} not loaded`);
    this.activeGenerations++;
    this.maxConcurrentGenerations = Math.max(this.maxConcurrentGenerations, this.activeGenerations);
    try {
      const last = contentText([...request.messages].reverse().find((m) => m.role === "user")?.content ?? "");
      const text = this.options.reply ? this.options.reply(request) : `Echo: ${last}`;
      const words = this.options.bytePerChunk ? [...text] : text.split(/(?<= )/);
      const promptTokens =
        this.options.promptTokens ??
        request.messages.reduce((n, m) => n + Math.ceil(contentText(m.content).length / 4) + 4, 8);
      let completion = 0;
      let produced = "";
      const fail = this.options.failAfter;
      const failing = fail && (fail.times === undefined || this.failures < fail.times);
      for (const [i, word] of words.entries()) {
        if (failing && i === fail.tokens) {
          this.failures++;
          throw fail.error();
        }
        if (signal?.aborted) return { finishReason: "abort", promptTokens, completionTokens: completion };
        if (request.max_tokens !== undefined && completion >= request.max_tokens) {
          return { finishReason: "length", promptTokens, completionTokens: completion };
        }
        if (this.options.tokenDelayMs) await new Promise((r) => setTimeout(r, this.options.tokenDelayMs));
        produced += word;
        const stop = request.stop?.find((s) => produced.includes(s));
        if (stop) return { finishReason: "stop", promptTokens, completionTokens: completion };
        const tokens = this.options.tokensPerChunk ?? 1;
        completion += tokens;
        this.generatedTokens += 1;
        await onChunk({
          text: word,
          tokens,
          ...(request.logprobs && { logprobs: Array.from({ length: tokens }, () => logprobOf(word)) }),
        });
      }
      return { finishReason: "stop", promptTokens, completionTokens: completion };
    } finally {
      this.activeGenerations--;
    }
  }

  async unload(): Promise<void> {
    this.loaded.clear();
  }

  async device(): Promise<DeviceReport> {
    return { backend: "http", adapter: "scripted test engine" };
  }

  loadedModels(): readonly string[] {
    return [...this.loaded];
  }
}

/** The constant logprob the scripted engine reports for a token. */
export const SCRIPTED_LOGPROB = -0.5;

function logprobOf(token: string): LogprobEntry {
  return { token, logprob: SCRIPTED_LOGPROB, bytes: [...new TextEncoder().encode(token)], top_logprobs: [] };
}
