import type { AnswerFinish, AnswerPiece, ChatParams } from "../../protocol";
import type { EmbedParams } from "../../protocol/schemas/embedding";

/**
 * The one small interface between the provider runtime and inference: load with progress,
 * stream a chat completion with usage, interrupt (through the signal), unload, and report what
 * the device can hold. WebLLM in a worker, an OpenAI-compatible HTTP backend, and the test
 * engine in tests/ all implement it.
 */
export type EngineRequest = ChatParams;

/** A run of generated text (or tool-call pieces) and how many tokens produced it. */
export type EngineChunk = AnswerPiece;
export type FinishReason = AnswerFinish;

export interface EngineResult {
  readonly finishReason: FinishReason;
  /** The full prompt as the engine tokenized it (not only tokens new since a cached prefix). */
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** What an embedding model made of a request: one vector per input, in order, and the tokens read. */
export interface EmbedResult {
  readonly vectors: readonly ArrayLike<number>[];
  readonly promptTokens: number;
}

/** Teacher-forced logprobs of given tokens (audits), and the prompt tokens read. */
export interface ScoreResult {
  /**
   * The logprobs of the tokens in order: all of them from an engine that forces tokens (a prefix
   * if the model stopped early: a stop token, its context window), those of a prefix from one
   * that follows its own greedy path (webllm-score.ts).
   */
  readonly logprobs: readonly number[];
  readonly promptTokens: number;
  /**
   * How they were scored, when the engine can do both (WebLLM): `teacher-forcing` (each token
   * after the answer's own tokens, webllm-forced-score.ts) or `greedy-path` (along the model's
   * own greedy path, only as far as it shares the answer's context). Engines that always force
   * leave it out.
   */
  readonly method?: "teacher-forcing" | "greedy-path";
  /** Why an engine that can force tokens scored along its greedy path instead, in words. */
  readonly fallback?: string;
}

export interface LoadProgress {
  /** 0 to 1. */
  readonly progress: number;
  readonly text: string;
}

export interface DeviceReport {
  readonly backend: "webgpu" | "http";
  readonly adapter?: string;
  readonly memoryMB?: number;
  readonly shaderF16?: boolean;
}

/**
 * `onChunk` may return a promise: the engine does not pull the next token until it settles. That
 * is how the credit window pauses generation on the GPU itself rather than buffering its output.
 */
export type ChunkSink = (chunk: EngineChunk) => void | Promise<void>;

export interface Engine {
  load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void>;
  /**
   * Streams one completion. Aborting `signal` stops generation within a token or two and
   * resolves with finishReason "abort" (it does not reject). Implementations run one generation
   * at a time per model and queue the rest.
   */
  generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult>;
  /**
   * Embeds each input with an embedding model; engines without one leave it out, and a provider
   * declares the `embeddings` feature only for a model its engine embeds with. A field the engine
   * cannot honour (`dimensions`) is an EngineError "unsupported" whose message starts with it.
   */
  embed?(request: EmbedParams, signal?: AbortSignal): Promise<EmbedResult>;
  /**
   * Teacher forcing, for audits (feature `scoring`): the logprob of each given token after the
   * request's prompt and the tokens before it (of a prefix of them, at least, see ScoreResult).
   * Engines that cannot leave it out.
   */
  score?(request: EngineRequest, tokens: readonly string[], signal?: AbortSignal): Promise<ScoreResult>;
  unload(): Promise<void>;
  device(): Promise<DeviceReport>;
  loadedModels(): readonly string[];
}

/** Raised by engines: the model cannot be loaded or run here, with the reason a user can act on. */
export class EngineError extends Error {
  /**
   * `download`: the weights or library could not be fetched (the network or the host, not the
   * cache); `context`: the prompt does not fit the model's context window (the request's fault);
   * `backend`: generation failed for a reason not told apart (engine-failure.ts).
   */
  readonly reason:
    | "load"
    | "download"
    | "unsupported"
    | "context"
    | "quota"
    | "device-lost"
    | "out-of-memory"
    | "backend"
    | "not-loaded";
  constructor(reason: EngineError["reason"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EngineError";
    this.reason = reason;
  }
}
