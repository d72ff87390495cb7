import {
  type AuditChallenge,
  type AuditReportBody,
  type ChatParams,
  type SignedAnswer,
  statementMismatch,
} from "../../protocol";
import { NoProviderError } from "./errors";
import type { ChatCompletion, ChatCompletionCreateParams } from "./openai-shapes";
import type { SilkClient } from "./silk-client";

/**
 * What an audit checks an answer against: a model that scores the suspect's own tokens after the
 * same prompt. Either the auditor's own engine (a device that can run the model), or another
 * provider of the model asked with `score`, whose signed statement of the scores goes into the
 * report so anyone can check them.
 */

/**
 * How the reference scored the tokens: `teacher-forcing` (each after the suspect's own tokens
 * before it: every token compared), `greedy-path` (along the model's own greedy path: a prefix,
 * which may leave the audit inconclusive), or `unstated` (a provider asked for plain `scoring`,
 * which promises no more than the greedy path and does not say which it did).
 */
export type ReferenceMethod = "teacher-forcing" | "greedy-path" | "unstated";

export interface ReferenceScores {
  readonly logprobs: readonly number[];
  readonly method: ReferenceMethod;
  /** The reference provider's request, answer and signed statement (absent for a local engine). */
  readonly evidence?: NonNullable<AuditReportBody["reference"]>;
  /** Why the tokens were not forced by a reference that prefers forcing, in words. */
  readonly fallback?: string;
}

export interface AuditReference {
  readonly name: string;
  /** `suspect` (identity key hex) is never asked to be its own reference; `signal` stops the asking. */
  score(
    challenge: AuditChallenge,
    tokens: readonly string[],
    suspect: string,
    signal?: AbortSignal,
  ): Promise<ReferenceScores>;
}

/** The auditor's own engine as the reference: anything that can score tokens. */
export function engineReference(
  engine: {
    score(
      request: ChatParams,
      tokens: readonly string[],
    ): Promise<{
      readonly logprobs: readonly number[];
      readonly method?: "teacher-forcing" | "greedy-path";
      readonly fallback?: string;
    }>;
  },
  name = "local engine",
): AuditReference {
  return {
    name,
    async score(challenge, tokens) {
      const { logprobs, method, fallback } = await engine.score(challenge, tokens);
      // Engines that always force leave `method` out (web/engines/engine.ts ScoreResult).
      return { logprobs, method: method ?? "teacher-forcing", ...(fallback && { fallback }) };
    },
  };
}

/**
 * Another provider of the model as the reference, asked through the SDK. It asks first for
 * teacher forcing (`score_method`, feature `forced_scoring`: a provider page serving as an audit
 * reference), whose request hash puts the method under the provider's signature; when no provider
 * but the suspect offers it, or the one asked could not force the tokens, it asks for plain
 * `scoring` and says why. A forced request signaling cannot place costs a session request (the
 * server rate-limits those), so it is not sent when the directory lists no provider of the model
 * with `forced_scoring` (its view is pushed, and may miss a provider for the moment after it
 * registers), nor, for `retryMs` (default 60 s), after signaling found none for that model and
 * suspect.
 */
export function providerReference(
  client: SilkClient,
  opts: { readonly retryMs?: number; readonly now?: () => number } = {},
): AuditReference {
  const retryMs = opts.retryMs ?? 60_000;
  const now = opts.now ?? Date.now;
  /** Per model and suspect: until when signaling had no forcing provider for them, and why. */
  const unplaced = new Map<string, { until: number; reason: string }>();
  return {
    name: "another provider",
    async score(challenge, tokens, suspect, signal) {
      const key = `${challenge.model} ${suspect}`;
      const memo = unplaced.get(key);
      if (memo && memo.until <= now()) unplaced.delete(key); // a long-running auditor keeps only live ones
      let why = memo && memo.until > now() ? memo.reason : await unlisted(client, challenge.model);
      if (why === undefined)
        try {
          return await askProvider(client, challenge, tokens, suspect, true, signal);
        } catch (err) {
          why = reasonOf(err);
          if (err instanceof NoProviderError) unplaced.set(key, { until: now() + retryMs, reason: why });
        }
      return {
        ...(await askProvider(client, challenge, tokens, suspect, false, signal)),
        fallback: `no other provider forced the tokens: ${why}`,
      };
    },
  };
}

/** Why the directory says no provider of `model` forces tokens; undefined when one may (or it cannot tell). */
async function unlisted(client: SilkClient, model: string): Promise<string | undefined> {
  const listed = await client.models.list().then(
    (l) => l.data.find((m) => m.id === model),
    () => undefined,
  );
  return listed && !listed.features.includes("forced_scoring")
    ? `the directory lists no provider of ${model} with forced_scoring`
    : undefined;
}

async function askProvider(
  client: SilkClient,
  challenge: AuditChallenge,
  tokens: readonly string[],
  suspect: string,
  forced: boolean,
  signal: AbortSignal | undefined,
): Promise<ReferenceScores> {
  const request: AuditChallenge = {
    ...challenge,
    score: [...tokens],
    logprobs: true,
    ...(forced && { score_method: "teacher-forcing" as const }),
  };
  const answer = (await client.chat.completions.create({
    ...(request as ChatCompletionCreateParams),
    score: [...tokens],
    avoid: [suspect],
    stream: false,
    ...(signal && { signal }),
  })) as ChatCompletion;
  const signed: SignedAnswer | undefined = answer.usage.silk?.signed_answer;
  const logprobs = answer.choices[0]?.logprobs?.content ?? [];
  const text = answer.choices[0]?.message.content ?? "";
  if (!signed) throw new Error("the reference provider did not sign its scores");
  if (signed.statement.provider === suspect) throw new Error("the reference is the suspect itself");
  // All the tokens, or a prefix of them from a reference that follows its greedy path.
  if (
    logprobs.length > tokens.length ||
    logprobs.some((l, i) => l.token !== tokens[i]) ||
    text !== tokens.slice(0, logprobs.length).join("")
  )
    throw new Error("the reference scored other tokens than asked");
  // The signature covers the request, `score_method` with it: the method is the provider's word.
  const mismatch = statementMismatch(signed, request as ChatParams, { text, logprobs });
  if (mismatch) throw new Error(`the reference's signed statement: ${mismatch}`);
  return {
    logprobs: logprobs.map((l) => l.logprob),
    method: forced ? "teacher-forcing" : "unstated",
    evidence: { request, content: { text, logprobs }, signed },
  };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : "error";
}
