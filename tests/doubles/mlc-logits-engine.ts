import type * as webllm from "@mlc-ai/web-llm";
import type { ChatParams } from "../../protocol";
import type { MlcChat } from "../../web/engines/webllm-run";
import { ToyModel, type ToyModelSpec, VOCABULARY } from "./toy-model";

/** The double's whole vocabulary: the toy model's tokens, [UNK] (the tokenizer's), and padding. */
export const FULL_VOCAB_SIZE = 56;
export const UNK_ID = VOCABULARY.length;

/**
 * TEST DOUBLE: WebLLM's `MLCEngine` chat with a `LogitProcessor` registered for its model, as
 * WebLLM 0.2.86 runs them (`LLMChatPipeline`), with a ToyModel standing in for the weights:
 * - `chat.completions.create` resets the chat itself before the prefill (WebLLM's
 *   `prepareChatCompletionInput` for a new conversation), which calls `resetState`; so does
 *   `resetChat`;
 * - at every step (the prefill's first token, then each decode) `sampleFromRawLogits` hands the
 *   processor a fresh full-vocabulary Float32Array of the model's raw logits (the toy model's
 *   log-softmax, a valid set of logits, padded past the tokenizer's vocabulary as a compiled
 *   model's are), samples from what it returns (argmax: greedy, as a top-p of 1e-5 or a masked
 *   vocabulary makes it) and then calls `processSampledToken` with the sampled id;
 * - the sampled id, not the processor's intent, is what the context continues with and what
 *   streams out (`tokenizer.decode([id])`), `max_tokens` ends it, usage comes in the last chunk.
 * `logit_bias` is applied after the processor, as WebLLM does, so a test can make WebLLM sample
 * other than the forced token.
 */
export class MlcLogitsDouble implements MlcChat {
  readonly requests: webllm.ChatCompletionRequestStreaming[] = [];
  /** Each call to the processor, as a test checks the calling convention. */
  readonly calls: ("processLogits" | "processSampledToken" | "resetState")[] = [];
  readonly chat: MlcChat["chat"];
  private readonly model: ToyModel;
  private interrupted = false;

  constructor(
    spec: ToyModelSpec,
    private readonly processor?: webllm.LogitProcessor,
  ) {
    this.model = new ToyModel(spec);
    this.chat = { completions: { create: async (r) => this.create(r) } };
  }

  async resetChat(): Promise<void> {
    this.reset();
  }

  interruptGenerate(): void {
    this.interrupted = true;
  }

  private reset(): void {
    this.calls.push("resetState");
    this.processor?.resetState();
  }

  private async *create(
    r: webllm.ChatCompletionRequestStreaming,
  ): AsyncGenerator<webllm.ChatCompletionChunk> {
    this.requests.push(structuredClone(r));
    this.interrupted = false;
    this.reset();
    const base = { id: "chatcmpl-logits", object: "chat.completion.chunk" as const, created: 0, model: "m" };
    let context = this.model.start(r as unknown as ChatParams);
    const limit = r.max_tokens ?? 32;
    let sent = 0;
    while (sent < limit && !this.interrupted) {
      const raw = new Float32Array(FULL_VOCAB_SIZE).fill(-20);
      raw.set(this.model.logprobs(context));
      this.calls.push("processLogits");
      const logits = this.processor ? this.processor.processLogits(raw) : raw;
      if (logits.length !== FULL_VOCAB_SIZE) throw new Error("processLogits changed the vocabulary size");
      for (const [id, bias] of Object.entries(r.logit_bias ?? {})) logits[Number(id)]! += bias;
      const id = argmax(logits);
      this.calls.push("processSampledToken");
      this.processor?.processSampledToken(id);
      const token = VOCABULARY[id] ?? "[UNK]";
      context = this.model.next(context, id);
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 0));
      const top = r.logprobs ? (r.top_logprobs ?? 0) : 0;
      yield {
        ...base,
        choices: [
          {
            index: 0,
            delta: { content: token, role: "assistant" },
            finish_reason: null,
            ...(top > 0 && { logprobs: { content: [tokenLogprob(logits, id, top, r.temperature ?? 1)] } }),
          },
        ],
      } as webllm.ChatCompletionChunk;
    }
    yield {
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: this.interrupted ? "abort" : "length" }],
    } as webllm.ChatCompletionChunk;
    const prompt = r.messages.length * 8;
    yield {
      ...base,
      choices: [],
      usage: { prompt_tokens: prompt, completion_tokens: sent, total_tokens: prompt + sent },
    } as unknown as webllm.ChatCompletionChunk;
  }
}

/**
 * WebLLM's `getTokenLogprob`: logprobs read from the softmax of the processed logits at
 * `max(1e-6, temperature)`, the sampled token and the `top` most likely.
 */
function tokenLogprob(logits: Float32Array, id: number, top: number, temperature: number) {
  const t = Math.max(1e-6, temperature);
  const scaled = Array.from(logits, (x) => x / t);
  const max = Math.max(...scaled);
  const lse = max + Math.log(scaled.reduce((sum, x) => sum + Math.exp(x - max), 0));
  const entry = (i: number) => ({ token: VOCABULARY[i] ?? "[UNK]", logprob: scaled[i]! - lse, bytes: [] });
  const order = scaled.map((_, i) => i).sort((a, b) => scaled[b]! - scaled[a]!);
  return { ...entry(id), top_logprobs: order.slice(0, top).map(entry) };
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
