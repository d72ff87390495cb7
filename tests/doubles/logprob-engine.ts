import type { ChatParams, LogprobEntry } from "../../protocol";
import type {
  ChunkSink,
  DeviceReport,
  Engine,
  EngineRequest,
  EngineResult,
  LoadProgress,
  ScoreResult,
} from "../../web/engines/engine";
import { SerialQueue } from "../../web/engines/serial-queue";
import { gaussian, seededRandom, ToyModel, type ToyModelSpec, VOCABULARY } from "./toy-model";

/**
 * TEST DOUBLE: an engine with real per-token logprobs (a ToyModel stands in for the weights), for
 * audit tests. Honest, it samples its model (greedy at temperature 0, else seeded) and reports the
 * logprobs it used, plus small Gaussian noise as another GPU's floats would. Knobs make it cheat
 * the ways issue 16 must catch: another model, another quantisation, dropped context, made-up
 * logprobs, or any of those on a fraction of requests only. It can also score given tokens
 * (teacher forcing), which makes it an audit reference.
 */
export interface LogprobEngineOptions {
  readonly models?: readonly string[];
  /** What it really runs. */
  readonly model: ToyModelSpec;
  /** Standard deviation (nats) of the noise on reported logprobs. */
  readonly noise?: number;
  /** Serves `model` instead on this fraction of requests (chosen at random). */
  readonly cheat?: { readonly fraction: number; readonly model: ToyModelSpec };
  /** Reports logprobs it made up (a constant) rather than those it sampled with. */
  readonly fakeLogprobs?: boolean;
  /** Seeds the noise and the cheating draws (the same seed cheats on the same requests). */
  readonly seed?: number;
  readonly tokenDelayMs?: number;
}

export const DEFAULT_ANSWER_TOKENS = 32;

export interface ToyAnswer {
  readonly text: string;
  readonly logprobs: LogprobEntry[];
  readonly finishReason: "stop" | "length";
}

/** One answer from `model` for `params`, as an engine would produce it (pure but for `random`). */
export function toyAnswer(
  model: ToyModel,
  params: ChatParams,
  random: () => number,
  opts: { noise?: number; fakeLogprobs?: boolean } = {},
): ToyAnswer {
  const limit = params.max_tokens ?? DEFAULT_ANSWER_TOKENS;
  const sampler = params.seed !== undefined ? seededRandom(params.seed) : random;
  const temperature = params.temperature ?? 1;
  let context = model.start(params);
  let text = "";
  const logprobs: LogprobEntry[] = [];
  for (let n = 0; n < limit; n++) {
    const lps = model.logprobs(context);
    const id = temperature === 0 ? argmax(lps) : sample(lps, temperature, sampler);
    const token = VOCABULARY[id]!;
    const reported = opts.fakeLogprobs ? -0.5 : lps[id]! + (opts.noise ? opts.noise * gaussian(random) : 0);
    logprobs.push({ token, logprob: reported, top_logprobs: topOf(lps, params.top_logprobs ?? 0) });
    text += token;
    context = model.next(context, id);
  }
  return { text, logprobs, finishReason: params.max_tokens !== undefined ? "length" : "stop" };
}

export class LogprobEngine implements Engine {
  private readonly loaded: Set<string>;
  private readonly queue = new SerialQueue();
  private readonly honest: ToyModel;
  private readonly other: ToyModel | undefined;
  private readonly random: () => number;
  /** Requests served with the cheating model, in order (tests compare with when audits caught it). */
  readonly cheated: boolean[] = [];

  constructor(private readonly options: LogprobEngineOptions) {
    this.loaded = new Set(options.models ?? ["test-model"]);
    this.honest = new ToyModel(options.model);
    this.other = options.cheat && new ToyModel(options.cheat.model);
    this.random = seededRandom(options.seed ?? 1);
  }

  async load(model: string, onProgress?: (p: LoadProgress) => void): Promise<void> {
    onProgress?.({ progress: 1, text: "ready" });
    this.loaded.add(model);
  }

  generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return this.queue.run(() => this.run(request, onChunk, signal));
  }

  /** Teacher forcing with the model it really runs (an audit reference when honest). */
  async score(params: ChatParams, tokens: readonly string[]): Promise<ScoreResult> {
    this.scored++;
    return { logprobs: this.honest.score(params, tokens), promptTokens: params.messages.length * 4 + 8 };
  }

  /** How many times it was asked to score (as an audit reference). */
  scored = 0;

  private async run(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    if (!this.loaded.has(request.model)) throw new Error(`model ${request.model} not loaded`);
    const cheat = this.other !== undefined && this.random() < (this.options.cheat?.fraction ?? 0);
    this.cheated.push(cheat);
    const answer = toyAnswer(cheat ? this.other! : this.honest, request, this.random, {
      ...(this.options.noise !== undefined && { noise: this.options.noise }),
      ...(this.options.fakeLogprobs && { fakeLogprobs: true }),
    });
    const promptTokens = request.messages.length * 4 + 8;
    let completion = 0;
    for (const entry of answer.logprobs) {
      if (signal?.aborted) return { finishReason: "abort", promptTokens, completionTokens: completion };
      if (this.options.tokenDelayMs) await new Promise((r) => setTimeout(r, this.options.tokenDelayMs));
      completion++;
      await onChunk({ text: entry.token, tokens: 1, ...(request.logprobs && { logprobs: [entry] }) });
    }
    return { finishReason: answer.finishReason, promptTokens, completionTokens: completion };
  }

  async unload(): Promise<void> {
    this.loaded.clear();
  }

  async device(): Promise<DeviceReport> {
    return { backend: "http", adapter: "logprob test engine" };
  }

  loadedModels(): readonly string[] {
    return [...this.loaded];
  }
}

function argmax(xs: Float64Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

function sample(lps: Float64Array, temperature: number, random: () => number): number {
  const weights = Array.from(lps, (lp) => Math.exp(lp / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return i;
  }
  return weights.length - 1;
}

function topOf(lps: Float64Array, k: number): LogprobEntry["top_logprobs"] {
  if (k <= 0) return [];
  return Array.from(lps, (logprob, i) => ({ token: VOCABULARY[i]!, logprob }))
    .sort((a, b) => b.logprob - a.logprob)
    .slice(0, k);
}
