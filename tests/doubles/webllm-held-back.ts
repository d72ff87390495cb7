import type * as webllm from "@mlc-ai/web-llm";
import type { ChatParams } from "../../protocol";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { SerialQueue } from "../../web/engines/serial-queue";
import { type MlcChat, runWebLlm } from "../../web/engines/webllm-run";
import { LogprobEngine, toyAnswer } from "./logprob-engine";
import { GLYPHS, seededRandom, ToyModel, type ToyModelSpec } from "./toy-model";

/**
 * TEST DOUBLE: WebLLM 0.2.86 streaming an answer in which characters are split across tokens,
 * exactly as its `makeStreamDeltaChunk` does (lib/index.js): while the decoded text ends in an
 * unfinished character (a count of trailing U+FFFD that is not a multiple of 4) no chunk is sent;
 * the chunk that finally carries the character has `logprobs.content =
 * getTokenLogprobArray().slice(-1)`, the last token alone, decoded on its own (`getTokenLogprob`:
 * "\uFFFD…", `bytes` the UTF-8 of that string). The usage chunk counts every token
 * (`getCurRoundCompletionTotalTokens`, a stop token included). A ToyModel stands in for the
 * weights: each of its words is one token, except a word spelled as an emoji (GLYPHS), which is
 * two byte tokens (the space and the emoji's first two bytes, then its last two). The first
 * carries the word's logprob, the second `CONTINUATION_LOGPROB` (a byte that finishes a
 * character is near certain). `glyphs: "every"` spells every word with an emoji (a cheat that
 * sprinkles split characters to escape audits).
 */
export interface HeldBackOptions {
  readonly model: ToyModelSpec;
  /** Sd (nats) of the noise on reported logprobs, as another GPU's floats. */
  readonly noise?: number;
  readonly seed?: number;
  readonly glyphs?: "some" | "every";
}

export const CONTINUATION_LOGPROB = -0.01;

interface Step {
  readonly bytes: Uint8Array;
  readonly logprob: number;
}

export class MlcHeldBackDouble implements MlcChat {
  readonly chat: MlcChat["chat"];
  /** Every token generated for the last request, and what the answer's whole text decodes to. */
  last: { steps: number; text: string } = { steps: 0, text: "" };
  private readonly model: ToyModel;
  private readonly random: () => number;
  private interrupted = false;

  constructor(private readonly options: HeldBackOptions) {
    this.model = new ToyModel(options.model);
    this.random = seededRandom(options.seed ?? 1);
    this.chat = { completions: { create: async (r) => this.stream(r) } };
  }

  async resetChat(): Promise<void> {
    this.interrupted = false;
  }

  interruptGenerate(): void {
    this.interrupted = true;
  }

  private async *stream(
    r: webllm.ChatCompletionRequestStreaming,
  ): AsyncGenerator<webllm.ChatCompletionChunk> {
    // Without max_tokens the toy model stops after 16 words.
    const limit = r.max_tokens ?? Number.POSITIVE_INFINITY;
    const greedy = r.temperature === 0 || (r.top_p ?? 1) <= 1e-5;
    const words = r.max_tokens ?? 16;
    const params = { ...r, temperature: greedy ? 0 : (r.temperature ?? 1), max_tokens: words } as ChatParams;
    const answer = toyAnswer(this.model, params, this.random, {
      ...(this.options.noise !== undefined && { noise: this.options.noise }),
    });
    const steps = answer.logprobs.flatMap((w) => this.stepsOf(w.token, w.logprob)).slice(0, limit);
    const decoder = new TextDecoder();
    const out: number[] = [];
    const entries: webllm.ChatCompletionTokenLogprob[] = [];
    const base = {
      id: "chatcmpl-double",
      model: "double",
      object: "chat.completion.chunk" as const,
      created: 0,
    };
    let sent = 0;
    let generated = 0;
    for (const step of steps) {
      if (this.interrupted) break;
      generated++;
      out.push(...step.bytes);
      const token = decoder.decode(step.bytes);
      const top = { token, bytes: [...new TextEncoder().encode(token)], logprob: step.logprob };
      entries.push({ ...top, top_logprobs: [top].slice(0, r.top_logprobs ?? 0) });
      const message = decoder.decode(Uint8Array.from(out));
      if (trailingReplacements(message) % 4 !== 0) continue;
      const delta = message.slice(sent);
      sent = message.length;
      yield {
        ...base,
        choices: [
          {
            delta: { content: delta, role: "assistant" },
            finish_reason: null,
            index: 0,
            logprobs: r.logprobs ? { content: entries.slice(-1) } : null,
          },
        ],
      };
    }
    const cut = generated >= limit;
    // A stop token ends an answer that was not cut: generated and counted, never streamed.
    if (!cut && !this.interrupted) generated++;
    this.last = { steps: generated, text: decoder.decode(Uint8Array.from(out)) };
    yield {
      ...base,
      choices: [{ delta: {}, finish_reason: cut ? "length" : "stop", index: 0, logprobs: null }],
    };
    if (r.stream_options?.include_usage)
      yield {
        ...base,
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: generated, total_tokens: 12 + generated },
      } as unknown as webllm.ChatCompletionChunk;
  }

  private stepsOf(word: string, logprob: number): Step[] {
    const glyph = this.options.glyphs === "every" ? `${word}\u{1F327}` : GLYPHS.get(word);
    if (!glyph) return [{ bytes: new TextEncoder().encode(word), logprob }];
    const bytes = new TextEncoder().encode(glyph);
    const cut = bytes.length - 2; // the emoji's last two bytes are the second token
    return [
      { bytes: bytes.subarray(0, cut), logprob },
      { bytes: bytes.subarray(cut), logprob: CONTINUATION_LOGPROB },
    ];
  }
}

function trailingReplacements(text: string): number {
  let n = 0;
  for (let i = text.length - 1; i >= 0 && text[i] === "\uFFFD"; i--) n++;
  return n;
}

/**
 * A provider engine that runs WebLLM's own mapping (`runWebLlm`) on the double above; loading,
 * scoring and the rest are LogprobEngine's.
 */
export class HeldBackEngine extends LogprobEngine {
  readonly mlc: MlcHeldBackDouble;
  private readonly runs = new SerialQueue();

  constructor(options: HeldBackOptions) {
    super({ model: options.model });
    this.mlc = new MlcHeldBackDouble(options);
  }

  override generate(request: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    return this.runs.run(() => runWebLlm(this.mlc, request, onChunk, signal));
  }
}
