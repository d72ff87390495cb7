import { utf8 } from "./encoding";

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
 * end-of-sequence and other special tokens, of which one per chunk is allowed.
 */
export const TEMPLATE_TOKENS_PER_MESSAGE = 8;
export const TEMPLATE_TOKENS_PER_REQUEST = 32;
export const SPECIAL_TOKENS_PER_CHUNK = 1;

export interface ChatMessageLike {
  readonly role: string;
  readonly content: string;
}

export function maxPromptTokens(messages: readonly ChatMessageLike[]): number {
  let total = TEMPLATE_TOKENS_PER_REQUEST;
  for (const m of messages) {
    total += utf8(m.role).length + utf8(m.content).length + TEMPLATE_TOKENS_PER_MESSAGE;
  }
  return total;
}

export function maxCompletionTokensFor(text: string): number {
  return utf8(text).length + SPECIAL_TOKENS_PER_CHUNK;
}

/** The prompt count both sides bill: the provider's full count, never above the bound. */
export function billablePromptTokens(reported: number, messages: readonly ChatMessageLike[]): number {
  return Math.min(reported, maxPromptTokens(messages));
}
