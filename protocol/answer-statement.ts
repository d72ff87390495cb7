import { sha256 } from "@noble/hashes/sha2.js";
import * as v from "valibot";
import { fromHex, lengthPrefixed, toHex, utf8 } from "./encoding";
import { type KeyPair, sign, verify } from "./identity";
import { canonicalJson } from "./registration";
import type { LogprobEntry, ToolCall } from "./schemas/chat";
import { Count, Hex32, Hex64, Id, ModelId } from "./schemas/common";
import { type ChatParams, chatOptionsOf, FinishReason } from "./schemas/session";

/**
 * A provider's signed statement of what it answered: the session, a hash of the request
 * (model, messages, sampling parameters, seed), a hash of the text and tool calls it sent, a hash
 * of the per-token logprobs it reported, the finish reason and the usage. The provider signs it
 * with its identity key at the end of every answer (the `done` message carries the signature);
 * the requester rebuilds the statement from what it sent and saw, so a signature that verifies
 * proves the provider answered exactly that, and one that does not is refused.
 *
 * The signed bytes are length-prefixed fields under their own label (domain separation from the
 * handshake and registration signatures) and a version byte.
 */
export const ANSWER_LABEL = "silk/v1 answer-statement";
export const ANSWER_VERSION = 1;

export const AnswerStatement = v.object({
  v: v.literal(ANSWER_VERSION),
  session: Id,
  request: Id,
  /** The provider's identity key, hex: the key the signature is checked against. */
  provider: Hex32,
  model: ModelId,
  request_hash: Hex32,
  tokens_hash: Hex32,
  /** Absent when the request did not ask for logprobs. */
  logprobs_hash: v.optional(Hex32),
  finish_reason: FinishReason,
  prompt_tokens: Count,
  completion_tokens: Count,
});
export type AnswerStatement = v.InferOutput<typeof AnswerStatement>;

export const SignedAnswer = v.object({ statement: AnswerStatement, signature: Hex64 });
export type SignedAnswer = v.InferOutput<typeof SignedAnswer>;

/** What the provider sent for one request: enough to recompute the statement's hashes. */
export interface AnswerContent {
  readonly text: string;
  readonly toolCalls?: readonly ToolCall[];
  readonly logprobs?: readonly LogprobEntry[];
}

/** The request as both sides hash it: model, messages and every option set, key order free. */
export function requestHash(request: ChatParams): string {
  const body = { model: request.model, messages: request.messages, ...chatOptionsOf(request) };
  return toHex(sha256(utf8(canonicalJson(body))));
}

/** Text and tool calls, whatever chunks they were streamed in. */
export function tokensHash(content: AnswerContent): string {
  const calls = (content.toolCalls ?? []).filter(Boolean);
  return toHex(sha256(lengthPrefixed(utf8(content.text), utf8(canonicalJson(calls)))));
}

export function logprobsHash(logprobs: readonly LogprobEntry[]): string {
  return toHex(sha256(utf8(canonicalJson(logprobs))));
}

export interface StatementFacts {
  readonly session: string;
  readonly request: string;
  readonly provider: Uint8Array;
  readonly params: ChatParams;
  readonly content: AnswerContent;
  readonly finishReason: AnswerStatement["finish_reason"];
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** The statement for what one side sent or saw; both sides build it the same way. */
export function buildStatement(f: StatementFacts): AnswerStatement {
  return {
    v: ANSWER_VERSION,
    session: f.session,
    request: f.request,
    provider: toHex(f.provider),
    model: f.params.model,
    request_hash: requestHash(f.params),
    tokens_hash: tokensHash(f.content),
    ...(f.params.logprobs && { logprobs_hash: logprobsHash(f.content.logprobs ?? []) }),
    finish_reason: f.finishReason,
    prompt_tokens: f.promptTokens,
    completion_tokens: f.completionTokens,
  };
}

/** The exact bytes signed: every field length-prefixed, under the answer label and version. */
export function statementBytes(s: AnswerStatement): Uint8Array {
  const count = (n: number) => utf8(String(n));
  return lengthPrefixed(
    utf8(ANSWER_LABEL),
    Uint8Array.of(s.v),
    utf8(s.session),
    utf8(s.request),
    fromHex(s.provider, 32, "provider key"),
    utf8(s.model),
    fromHex(s.request_hash, 32, "request hash"),
    fromHex(s.tokens_hash, 32, "tokens hash"),
    s.logprobs_hash === undefined ? new Uint8Array(0) : fromHex(s.logprobs_hash, 32, "logprobs hash"),
    utf8(s.finish_reason),
    count(s.prompt_tokens),
    count(s.completion_tokens),
  );
}

export function signStatement(identity: KeyPair, statement: AnswerStatement): SignedAnswer {
  return { statement, signature: toHex(sign(identity.secretKey, statementBytes(statement))) };
}

/** Never throws: a malformed statement or signature simply does not verify. */
export function verifySignedAnswer(signed: SignedAnswer): boolean {
  try {
    const parsed = v.safeParse(SignedAnswer, signed);
    if (!parsed.success) return false;
    const s = parsed.output.statement;
    return verify(
      fromHex(s.provider, 32, "provider key"),
      statementBytes(s),
      fromHex(parsed.output.signature, 64, "signature"),
    );
  } catch {
    return false;
  }
}

/** Why a signed answer does not match the request and content it is said to answer, or undefined. */
export function statementMismatch(
  signed: SignedAnswer,
  params: ChatParams,
  content: AnswerContent,
): string | undefined {
  const s = signed.statement;
  if (!verifySignedAnswer(signed)) return "the signature does not verify";
  if (s.model !== params.model) return "the statement names another model";
  if (s.request_hash !== requestHash(params)) return "the statement is for another request";
  if (s.tokens_hash !== tokensHash(content)) return "the statement is for other tokens";
  if (params.logprobs && s.logprobs_hash !== logprobsHash(content.logprobs ?? []))
    return "the statement is for other logprobs";
  return undefined;
}
