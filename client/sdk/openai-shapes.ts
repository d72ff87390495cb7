/**
 * The OpenAI chat completion shapes the SDK returns (the same that WebLLM's engine returns), so
 * an app written for either moves to Silk by swapping the engine object. Silk adds `usage.silk`:
 * what the answer cost and who served it.
 */
export interface ChatCompletionMessageParam {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatCompletionCreateParams {
  model: string;
  messages: ChatCompletionMessageParam[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  /** Aborting stops generation on the provider's GPU within a token or two. */
  signal?: AbortSignal;
}

export interface SilkUsage {
  /** nanoTON, decimal string (JSON has no bigint). */
  cost_nanoton: string;
  provider: string;
  failovers: number;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  silk?: SilkUsage;
}

export type FinishReason = "stop" | "length" | "abort";

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }[];
  usage?: CompletionUsage;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string };
    finish_reason: FinishReason;
    logprobs: null;
  }[];
  usage: CompletionUsage;
}

export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: "silk";
  /** How many providers serve it, and the cheapest effective prices (nanoTON per token). */
  providers: number;
  price: { prompt_nanoton: string; completion_nanoton: string } | null;
}
