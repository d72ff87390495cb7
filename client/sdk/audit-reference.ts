import type { AuditChallenge, AuditReportBody, ChatParams, SignedAnswer } from "../../protocol";
import type { ChatCompletion, ChatCompletionCreateParams } from "./openai-shapes";
import type { SilkClient } from "./silk-client";

/**
 * What an audit checks an answer against: a model that scores the suspect's own tokens after the
 * same prompt (teacher forcing). Either the auditor's own engine (a device that can run the
 * model), or another provider of the model asked with `score`, whose signed statement of the
 * scores goes into the report so anyone can check them.
 */
export interface ReferenceScores {
  readonly logprobs: readonly number[];
  /** The reference provider's request, answer and signed statement (absent for a local engine). */
  readonly evidence?: NonNullable<AuditReportBody["reference"]>;
  /**
   * Why a reference that can force tokens scored along its greedy path instead (a prefix that
   * may leave the audit inconclusive), in words (ScoreResult `fallback`).
   */
  readonly fallback?: string;
}

export interface AuditReference {
  readonly name: string;
  /** `suspect` (identity key hex) is never asked to be its own reference. */
  score(challenge: AuditChallenge, tokens: readonly string[], suspect: string): Promise<ReferenceScores>;
}

/** The auditor's own engine as the reference: anything that can score tokens. */
export function engineReference(
  engine: {
    score(
      request: ChatParams,
      tokens: readonly string[],
    ): Promise<{ readonly logprobs: readonly number[]; readonly fallback?: string }>;
  },
  name = "local engine",
): AuditReference {
  return {
    name,
    async score(challenge, tokens) {
      const { logprobs, fallback } = await engine.score(challenge, tokens);
      return { logprobs, ...(fallback && { fallback }) };
    },
  };
}

/** Another provider of the model as the reference, asked through the SDK (feature `scoring`). */
export function providerReference(client: SilkClient): AuditReference {
  return {
    name: "another provider",
    async score(challenge, tokens, suspect) {
      const request: AuditChallenge = { ...challenge, score: [...tokens], logprobs: true };
      const answer = (await client.chat.completions.create({
        ...(request as ChatCompletionCreateParams),
        score: [...tokens],
        avoid: [suspect],
        stream: false,
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
      return {
        logprobs: logprobs.map((l) => l.logprob),
        evidence: { request, content: { text, logprobs }, signed },
      };
    },
  };
}
