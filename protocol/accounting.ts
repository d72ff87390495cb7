import { utf8 } from "./encoding";
import { contentText } from "./features";
import type { ChatMessage, ResponseFormat, Tool, ToolCallDelta } from "./schemas/chat";

/**
 * What a requester can check without the provider's tokenizer. It never signs for more than
 * these bounds; a provider reporting more is over-reporting.
 *
 * Prompt: every tokenizer Silk serves (byte-level BPE or SentencePiece with byte fallback) turns
 * one byte of text into at most one token, so the prompt costs at most its UTF-8 bytes, plus a
 * chat-template allowance per message (role markers, separators) and once per request (system
 * preamble, generation prompt).
 *
 * Completion: each streamed token carries text; a token is at least one byte of text, except
 * end-of-sequence and other special tokens, of which a few are allowed on the whole answer (the
 * stop token, and the tokens of a character left unfinished when the answer was cut). Bounded per
 * answer, not per chunk: a per-chunk allowance let a provider streaming one byte per chunk bill
 * two tokens a byte.
 */
export const TEMPLATE_TOKENS_PER_MESSAGE = 8;
export const TEMPLATE_TOKENS_PER_REQUEST = 32;
export const SPECIAL_TOKENS_PER_ANSWER = 4;
/**
 * Tokens of an answer a requester still pays for after it sent `cancel`: those already on their
 * way, and the token or two the provider's engine makes before it stops. Past them the provider
 * is streaming on after a cancel: the requester pays for none of it and drops the provider.
 */
export const TOKENS_AFTER_CANCEL = 32;

/** What reaches the model's prompt: the messages, and the tool definitions and schema it is shown. */
export interface PromptLike {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly Tool[];
  readonly response_format?: ResponseFormat;
}

export function maxPromptTokens(r: PromptLike): number {
  let total = TEMPLATE_TOKENS_PER_REQUEST;
  for (const m of r.messages) {
    let text = m.role + contentText(m.content);
    if ("name" in m && m.name) text += m.name;
    if (m.role === "tool") text += m.tool_call_id;
    if (m.role === "assistant")
      for (const c of m.tool_calls ?? []) text += c.id + c.function.name + c.function.arguments;
    total += utf8(text).length + TEMPLATE_TOKENS_PER_MESSAGE;
  }
  // Engines render tools and schemas into the prompt as JSON (or something no longer than it).
  if (r.tools) total += utf8(JSON.stringify(r.tools)).length + TEMPLATE_TOKENS_PER_MESSAGE;
  if (r.response_format?.type === "json_schema")
    total += utf8(JSON.stringify(r.response_format.json_schema)).length + TEMPLATE_TOKENS_PER_MESSAGE;
  return total;
}

/** The bytes a streamed piece carries: its text and any tool-call name and arguments. */
export function completionBytesOf(text: string, toolCalls?: readonly ToolCallDelta[]): number {
  let bytes = utf8(text).length;
  for (const c of toolCalls ?? [])
    bytes += utf8((c.function?.name ?? "") + (c.function?.arguments ?? "")).length;
  return bytes;
}

/** The most completion tokens an answer that has streamed `bytes` so far can have cost. */
export function maxCompletionTokens(bytes: number): number {
  return bytes + SPECIAL_TOKENS_PER_ANSWER;
}

/** The prompt count both sides bill: the provider's full count, never above the bound. */
export function billablePromptTokens(reported: number, r: PromptLike): number {
  return Math.min(reported, maxPromptTokens(r));
}

/**
 * Embeddings: each input is tokenized on its own, at most one token per byte plus the model's
 * markers around it (a BERT-style [CLS] … [SEP], an instruction prefix), one message's allowance.
 */
export function maxEmbedTokens(input: readonly string[]): number {
  let total = 0;
  for (const text of input) total += utf8(text).length + TEMPLATE_TOKENS_PER_MESSAGE;
  return total;
}

/** The prompt count both sides bill for an embedding: the provider's count, never above the bound. */
export function billableEmbedTokens(reported: number, input: readonly string[]): number {
  return Math.min(reported, maxEmbedTokens(input));
}
