import type {
  LogprobEntry,
  ResponseFormat,
  SignedAnswer,
  Tool,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
} from "../../protocol";

/**
 * The OpenAI chat completion shapes the SDK takes and returns (the same that WebLLM's engine
 * does), so an app written for either moves to Silk by swapping the engine object. Silk adds
 * `usage.silk`: what the answer cost and who served it.
 */
export type ContentPartParam =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string; detail?: "auto" | "low" | "high" } };

export type ChatCompletionMessageParam =
  | { role: "system" | "developer"; content: string | { type: "text"; text: string }[]; name?: string }
  | { role: "user"; content: string | ContentPartParam[]; name?: string }
  | {
      role: "assistant";
      content?: string | { type: "text"; text: string }[] | null;
      name?: string;
      tool_calls?: ToolCall[];
    }
  | { role: "tool"; content: string | { type: "text"; text: string }[]; tool_call_id: string };

export interface ChatCompletionCreateParams {
  model: string;
  messages: ChatCompletionMessageParam[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  /** OpenAI's newer name for max_tokens; the smaller wins when both are given. */
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  response_format?: ResponseFormat | null;
  tools?: Tool[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  user?: string | null;
  /** Only 1: one answer per request (anything else is refused naming `n`). */
  n?: number | null;
  /** Aborting stops generation on the provider's GPU within a token or two. */
  signal?: AbortSignal;
  /** Silk: teacher forcing (audits): stream these tokens back with their logprobs; needs `scoring`. */
  score?: string[] | null;
  /**
   * Silk: with `score`, "teacher-forcing" asks for a provider that forces each token (feature
   * `forced_scoring`), never one that scores along its own greedy path.
   */
  score_method?: "teacher-forcing" | null;
  /** Silk: never send this request to these providers (identity keys, hex), e.g. an audit's suspect. */
  avoid?: readonly string[];
}

export interface SilkUsage {
  /** nanoTON, decimal string (JSON has no bigint). */
  cost_nanoton: string;
  provider: string;
  failovers: number;
  /** The provider's signed statement of this answer (protocol/answer-statement.ts), when it signed. */
  signed_answer?: SignedAnswer;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  silk?: SilkUsage;
}

export type FinishReason = "stop" | "length" | "abort" | "tool_calls" | "content_filter";

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason | null;
    logprobs: { content: LogprobEntry[] } | null;
  }[];
  /** On every chunk, as OpenAI's: the provider that sent it (completion-stream.ts). */
  system_fingerprint?: string;
  /** With include_usage: null on every chunk but the last, which has it (and no choices). */
  usage?: CompletionUsage | null;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    finish_reason: FinishReason;
    logprobs: { content: LogprobEntry[] } | null;
  }[];
  system_fingerprint?: string;
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
  /** What at least one provider of it supports beyond plain chat (see protocol/features.ts). */
  features: string[];
  context_window: number | null;
}
