import type * as webllm from "@mlc-ai/web-llm";
import type { MlcChat } from "../../web/engines/webllm-run";

/**
 * TEST DOUBLE: WebLLM's `MLCEngine` chat API as WebLLM documents and implements it (its
 * `postInitAndCheckFields` and streaming code), since the real engine needs WebGPU and model
 * weights. It throws where WebLLM throws: a system message not first, a last message not from
 * the user or a tool, a schema that is not a string or not under `json_object`, more than one
 * text part, an image `detail`, tools on a model without function calling, a system prompt or a
 * response format next to tools, and a second generation while one is still streaming. It
 * streams a word per chunk, logprobs when asked, usage only in the last chunk (empty choices),
 * and with tools the raw call JSON as content and the parsed calls, without ids, in the last one.
 * Like WebLLM (its `getTokenLogprob`, called only when `top_logprobs > 0`), logprobs come only
 * when `top_logprobs` is above 0, and `top_logprobs` needs `logprobs` and is at most 5. Given a
 * `greedy` path, it answers with those tokens (its greedy choice at each step, with the step's
 * top tokens) instead of echoing: what a model would generate for the prompt. Like WebLLM (its
 * `sampleFromRawLogits` reads logprobs from the softmax at `max(1e-6, temperature)`), at
 * temperature 0 the chosen token's logprob is 0 and every other top token's -Infinity.
 */
export const FUNCTION_CALLING_MODELS = [
  "Hermes-2-Pro-Llama-3-8B-q4f16_1-MLC",
  "Hermes-3-Llama-3.1-8B-q4f16_1-MLC",
];

/** WebLLM's prebuilt embedding models (`model_type: ModelType.embedding`), 768 dimensions for -m, 384 for -s. */
export const EMBEDDING_MODELS = [
  "snowflake-arctic-embed-m-q0f32-MLC-b4",
  "snowflake-arctic-embed-s-q0f32-MLC-b4",
];

/**
 * WebLLM's `engine.embeddings.create` as `MLCEngine.embedding` implements it: only on an embedding
 * model (else IncorrectPipelineLoadedError), UnsupportedFieldsError for `dimensions` and `user`,
 * base64 refused, empty input refused, calls serialised by the model's lock (they wait, they do
 * not throw), data in input order, usage.prompt_tokens the tokens it read (a word is a token here,
 * plus [CLS] and [SEP]). `resetChat` on an embedding model throws, as WebLLM's getLLMStates does.
 */
export class MlcEmbeddingsDouble {
  readonly requests: webllm.EmbeddingCreateParams[] = [];
  private lock: Promise<unknown> = Promise.resolve();
  readonly embeddings: { create(r: webllm.EmbeddingCreateParams): Promise<webllm.CreateEmbeddingResponse> };

  constructor(readonly model: string) {
    this.embeddings = {
      create: (r) => {
        const run = this.lock.then(() => this.embed(r));
        this.lock = run.catch(() => undefined);
        return run;
      },
    };
  }

  async resetChat(): Promise<void> {
    throw new Error(`IncorrectPipelineLoadedError: ${this.model} is not an LLMChatPipeline`);
  }

  private async embed(r: webllm.EmbeddingCreateParams): Promise<webllm.CreateEmbeddingResponse> {
    if (!EMBEDDING_MODELS.includes(this.model))
      throw new Error(`IncorrectPipelineLoadedError: ${this.model} is not an EmbeddingPipeline`);
    const unsupported = ["dimensions", "user"].filter((f) => f in r);
    if (unsupported.length) throw new Error(`UnsupportedFieldsError: ${unsupported.join(", ")}`);
    if (r.encoding_format === "base64") throw new Error("EmbeddingUnsupportedEncodingFormatError");
    const inputs = typeof r.input === "string" ? [r.input] : (r.input as string[]);
    if (inputs.length === 0 || inputs.some((x) => x.length === 0))
      throw new Error("EmbeddingInputEmptyError");
    this.requests.push(structuredClone(r));
    await new Promise((resolve) => setTimeout(resolve, 1));
    const size = this.model.includes("-m-") ? 768 : 384;
    const tokens = inputs.reduce((n, x) => n + x.split(/\s+/).length + 2, 0);
    return {
      object: "list",
      model: this.model,
      data: inputs.map((x, index) => ({
        object: "embedding",
        index,
        embedding: Array.from({ length: size }, (_, i) => ((x.length * 31 + i) % 97) / 97),
      })),
      usage: { prompt_tokens: tokens, total_tokens: tokens, extra: { prefill_tokens_per_s: 1000 } },
    };
  }
}

/** One step of a scripted greedy path: the token chosen and the step's most likely tokens, best first. */
export interface GreedyStep {
  readonly token: string;
  readonly logprob: number;
  readonly top: readonly { readonly token: string; readonly logprob: number }[];
}

/** A step as WebLLM reports it at temperature 0: certainty for its choice, nothing for the rest. */
function frozen(step: GreedyStep): GreedyStep {
  return {
    token: step.token,
    logprob: 0,
    top: step.top.map((t) => ({
      token: t.token,
      logprob: t.token === step.token ? 0 : Number.NEGATIVE_INFINITY,
    })),
  };
}

export class MlcEngineDouble implements MlcChat {
  readonly requests: webllm.ChatCompletionRequestStreaming[] = [];
  resets = 0;
  private generating = false;
  private interrupted = false;
  readonly chat: MlcChat["chat"];

  constructor(
    readonly model: string,
    private readonly greedy?: readonly GreedyStep[],
  ) {
    this.chat = { completions: { create: async (r) => this.create(r) } };
  }

  async resetChat(): Promise<void> {
    this.resets++;
  }

  interruptGenerate(): void {
    this.interrupted = true;
  }

  private create(r: webllm.ChatCompletionRequestStreaming): AsyncIterable<webllm.ChatCompletionChunk> {
    if (this.generating)
      throw new Error("WebLLM runs one generation at a time: the last stream was not drained");
    this.check(r);
    this.requests.push(structuredClone(r));
    this.generating = true;
    this.interrupted = false;
    return this.stream(r);
  }

  private check(r: webllm.ChatCompletionRequestStreaming): void {
    r.messages.forEach((m, i) => {
      if (m.role === "system" && i !== 0) throw new Error("SystemMessageOrderError");
      if (Array.isArray(m.content)) {
        if (m.content.filter((p) => p.type === "text").length > 1)
          throw new Error("MultipleTextContentError");
        for (const p of m.content)
          if (p.type === "image_url" && p.image_url.detail != null) throw new Error("UnsupportedDetailError");
      }
    });
    if (r.top_logprobs != null) {
      if (!r.logprobs) throw new Error("DependencyError: top_logprobs requires logprobs to be true");
      if (!(r.top_logprobs >= 0 && r.top_logprobs <= 5))
        throw new Error(`RangeError: top_logprobs must be in [0, 5], got ${r.top_logprobs}`);
    }
    const last = r.messages.at(-1)?.role;
    if (last !== "user" && last !== "tool") throw new Error("MessageOrderError");
    const format = r.response_format;
    if (format?.schema != null && (format.type !== "json_object" || typeof format.schema !== "string"))
      throw new Error("InvalidResponseFormatError");
    if (r.tools) {
      if (!FUNCTION_CALLING_MODELS.includes(this.model)) throw new Error("UnsupportedModelIdError");
      if (format) throw new Error("CustomResponseFormatError");
      if (r.messages.some((m) => m.role === "system")) throw new Error("CustomSystemPromptError");
    }
  }

  private async *stream(
    r: webllm.ChatCompletionRequestStreaming,
  ): AsyncGenerator<webllm.ChatCompletionChunk> {
    const base = {
      id: "chatcmpl-double",
      object: "chat.completion.chunk" as const,
      created: 0,
      model: this.model,
    };
    {
      const lastUser = [...r.messages].reverse().find((m) => m.role === "user");
      const asked =
        typeof lastUser?.content === "string"
          ? lastUser.content
          : ((lastUser?.content?.find((p) => p.type === "text") as { text: string } | undefined)?.text ?? "");
      const tool = r.tools?.[0];
      let text: string;
      if (tool) text = JSON.stringify([{ name: tool.function.name, arguments: { city: asked } }]);
      else if (r.response_format?.type === "json_object") {
        const schema = r.response_format.schema
          ? (JSON.parse(r.response_format.schema) as { properties?: object })
          : {};
        text = JSON.stringify(
          Object.fromEntries(Object.keys(schema.properties ?? { echo: 0 }).map((k) => [k, asked])),
        );
      } else text = this.greedy ? this.greedy.map((g) => g.token).join("") : `Echo: ${asked}`;
      const words = this.greedy && !tool ? this.greedy.map((g) => g.token) : text.split(/(?<= )|(?<=,)/);
      const top = r.logprobs ? (r.top_logprobs ?? 0) : 0;
      let sent = 0;
      for (const word of words) {
        if (this.interrupted) break;
        if (r.max_tokens != null && sent >= r.max_tokens) break;
        const scripted = this.greedy?.[sent] ?? {
          token: word,
          logprob: -0.5,
          top: [{ token: word, logprob: -0.5 }],
        };
        const step = r.temperature === 0 ? frozen(scripted) : scripted;
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield {
          ...base,
          choices: [
            {
              index: 0,
              delta: { content: word, role: "assistant" },
              finish_reason: null,
              ...(top > 0 && {
                logprobs: {
                  content: [
                    {
                      token: word,
                      logprob: step.logprob,
                      bytes: [],
                      top_logprobs: step.top.slice(0, top).map((t) => ({ ...t, bytes: [] })),
                    },
                  ],
                },
              }),
            },
          ],
        } as webllm.ChatCompletionChunk;
      }
      const finish = this.interrupted
        ? "abort"
        : sent < words.length
          ? "length"
          : tool
            ? "tool_calls"
            : "stop";
      const calls =
        finish === "tool_calls"
          ? (JSON.parse(text) as { name: string; arguments: object }[]).map((c, index) => ({
              index,
              type: "function" as const,
              function: { name: c.name, arguments: JSON.stringify(c.arguments) },
            }))
          : undefined;
      yield {
        ...base,
        choices: [
          { index: 0, delta: calls ? { role: "assistant", tool_calls: calls } : {}, finish_reason: finish },
        ],
      } as webllm.ChatCompletionChunk;
      if (r.stream_options?.include_usage) {
        const prompt = r.messages.reduce((n, m) => n + JSON.stringify(m.content).length, 0);
        yield {
          ...base,
          choices: [],
          usage: { prompt_tokens: prompt, completion_tokens: sent, total_tokens: prompt + sent },
        } as unknown as webllm.ChatCompletionChunk;
      }
    }
    // Only a stream read to its end frees the engine: one left early keeps it locked, as in WebLLM.
    this.generating = false;
  }
}
