import {
  type AuditChallenge,
  type AuditReport,
  type AuditReportBody,
  type AuditTolerance,
  type AuditVerdict,
  answerTokens,
  DEFAULT_AUDIT_RATE,
  DEFAULT_TOLERANCE,
  judgeAnswer,
  type KeyPair,
  type SignedAnswer,
  signReport,
  statementMismatch,
} from "../../protocol";
import { type AuditReference, providerReference, type ReferenceMethod } from "./audit-reference";
import { CHALLENGE_PROMPTS } from "./challenge-corpus";
import type { ChatCompletion, ChatCompletionCreateParams } from "./openai-shapes";
import type { SilkClient } from "./silk-client";

/**
 * Audits that look like ordinary requests (issue 16): beside a fraction of its requests, an
 * auditor sends a challenge (a realistic prompt from the corpus, greedy with a fixed seed,
 * logprobs on) through the same client, sessions and timing as its traffic, checks the signed
 * answer against a reference (audit-reference.ts), and reports what it found with evidence
 * anyone can check (protocol/audit-report.ts).
 */
export interface AuditorOptions {
  readonly client: SilkClient;
  readonly reference: AuditReference;
  /** Signs reports (the requester's session key will do). */
  readonly reporter: KeyPair;
  /** The share of requests that bring a challenge along (default 5%). */
  readonly rate?: number;
  readonly corpus?: readonly string[];
  readonly random?: () => number;
  /** Tokens each challenge asks for (default 32: the statistics need at least 16). */
  readonly maxTokens?: number;
  readonly tolerance?: AuditTolerance;
  /** Where reports go (the signaling server's `audit:report`); without it they are only kept. */
  readonly submit?: (report: AuditReport) => Promise<unknown>;
  readonly onAudit?: (record: AuditRecord) => void;
  /**
   * Runs each audit when the requester's key is free. The web client's tabs take turns on one key
   * (client/web/tab-turns.ts): an audit sent outside its tab's turn would open a session that
   * another tab's answer then loses. `run` is given a signal that aborts when the turn is taken
   * from it (another tab asked to go now): the audit then stops, with no verdict on what it got.
   * Without it, an audit runs beside its request at once.
   */
  readonly turn?: <T>(run: (taken: AbortSignal) => Promise<T>) => Promise<T>;
}

export interface AuditRecord {
  readonly model: string;
  /** The audited provider's identity key, when an answer came. */
  readonly provider?: string;
  readonly challenge: AuditChallenge;
  readonly verdict: AuditVerdict | { readonly result: "error"; readonly reason: string };
  /**
   * How the reference scored the answer's tokens, when it did (audit-reference.ts): only
   * `teacher-forcing` means every token was compared after the suspect's own context.
   */
  readonly method?: ReferenceMethod;
  /** The evidence, when the reference was another provider (a local engine's scores prove nothing to others). */
  readonly report?: AuditReport;
  /** Why submitting the report failed, if it did. */
  readonly submitError?: string;
}

/** The audit's turn on the requester's key was taken (another tab asked to go now): it stopped unjudged. */
export class AuditStoppedError extends Error {
  override readonly name = "AuditStoppedError";
  constructor(readonly model: string) {
    super(`the audit of ${model} stopped: another tab took this key's turn; nothing was judged`);
  }
}

export class Auditor {
  readonly records: AuditRecord[] = [];
  private readonly random: () => number;
  /** Audits `wrap` started and that have not finished. */
  private readonly running = new Set<Promise<AuditRecord>>();

  constructor(private readonly opts: AuditorOptions) {
    this.random = opts.random ?? Math.random;
  }

  get rate(): number {
    return this.opts.rate ?? DEFAULT_AUDIT_RATE;
  }

  /** A challenge for `model`: a corpus prompt, greedy, a fixed random seed, logprobs on. */
  challengeFor(model: string): AuditChallenge {
    const corpus = this.opts.corpus ?? CHALLENGE_PROMPTS;
    const prompt = corpus[Math.floor(this.random() * corpus.length)] ?? CHALLENGE_PROMPTS[0]!;
    return {
      model,
      messages: [{ role: "user", content: prompt }],
      temperature: 0,
      seed: Math.floor(this.random() * 2 ** 31),
      logprobs: true,
      max_tokens: this.opts.maxTokens ?? 32,
    };
  }

  /** Sends one challenge for `model` and checks the answer. Never throws: errors are records. */
  async audit(model: string): Promise<AuditRecord> {
    const challenge = this.challengeFor(model);
    let record: AuditRecord;
    try {
      const turn = this.opts.turn;
      record = await (turn ? turn((taken) => this.run(challenge, taken)) : this.run(challenge));
    } catch (err) {
      record = { model, challenge, verdict: { result: "error", reason: reasonOf(err) } };
    }
    this.records.push(record);
    this.opts.onAudit?.(record);
    return record;
  }

  private async run(challenge: AuditChallenge, taken?: AbortSignal): Promise<AuditRecord> {
    const model = challenge.model;
    const answer = (await this.opts.client.chat.completions.create({
      ...(challenge as ChatCompletionCreateParams),
      stream: false,
      ...(taken && { signal: taken }),
    })) as ChatCompletion;
    // A cut answer says nothing about its provider: no verdict, no report.
    if (taken?.aborted) throw new AuditStoppedError(model);
    const silk = answer.usage.silk;
    const provider = silk?.provider;
    const base = { model, challenge, ...(provider && { provider }) };
    // An answer that moved between providers is nobody's whole answer.
    if (!silk || silk.failovers > 0)
      return {
        ...base,
        verdict: { result: "inconclusive", compared: 0, rms: 0, worst: 0, reason: "failover" },
      };
    const content = {
      text: answer.choices[0]?.message.content ?? "",
      logprobs: answer.choices[0]?.logprobs?.content ?? [],
    };
    const signed = silk.signed_answer;
    if (!signed || statementMismatch(signed, challenge, content))
      return { ...base, verdict: { result: "error", reason: "the answer is not signed for this challenge" } };
    const tolerance = this.opts.tolerance ?? DEFAULT_TOLERANCE;
    const generated = signed.statement.completion_tokens;
    const parts = answerTokens(content, tolerance, generated);
    if (typeof parts === "string") {
      const verdict = judgeAnswer(content, [], tolerance, generated);
      return this.reported(
        { ...base, verdict },
        { v: 1, verdict: "fail", challenge, answer: { content, signed } },
      );
    }
    const scores = await this.opts.reference
      .score(challenge, parts.tokens, signed.statement.provider, taken)
      .catch((err: unknown) => {
        if (taken?.aborted) throw new AuditStoppedError(model);
        throw new Error(`the reference (${this.opts.reference.name}) failed: ${reasonOf(err)}`);
      });
    if (taken?.aborted) throw new AuditStoppedError(model);
    const judged = judgeAnswer(content, scores.logprobs, tolerance, generated);
    const verdict =
      judged.result === "inconclusive" && scores.method !== "teacher-forcing"
        ? { ...judged, reason: `${judged.reason}: ${unforcedReason(scores.method, scores.fallback)}` }
        : judged;
    const scored = { ...base, verdict, method: scores.method };
    if (verdict.result === "inconclusive" || !scores.evidence) return scored;
    return this.reported(scored, {
      v: 1,
      verdict: verdict.result,
      challenge,
      answer: { content, signed },
      reference: scores.evidence,
    });
  }

  private async reported(record: AuditRecord, body: AuditReportBody): Promise<AuditRecord> {
    const report = signReport(this.opts.reporter, body);
    if (!this.opts.submit) return { ...record, report };
    try {
      await this.opts.submit(report);
      return { ...record, report };
    } catch (err) {
      return { ...record, report, submitError: reasonOf(err) };
    }
  }

  /** Resolves once the audits `wrap` started have finished (before closing the client, say). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /**
   * The client with audits turned on: each request brings a challenge for its model along with
   * probability `rate`, sent beside it on the same client (its result lands in `records`).
   */
  wrap(): SilkClient {
    const client = this.opts.client;
    const create = (params: ChatCompletionCreateParams) => {
      if (this.random() < this.rate) {
        const audit = this.audit(params.model);
        this.running.add(audit);
        void audit.finally(() => this.running.delete(audit));
      }
      return client.chat.completions.create(params);
    };
    return {
      ...client,
      chat: { completions: { create: create as SilkClient["chat"]["completions"]["create"] } },
      models: client.models,
      reportAudit: (r) => client.reportAudit(r),
      interruptGenerate: () => client.interruptGenerate(),
      close: () => client.close(),
    };
  }
}

/**
 * Audits as a requester turns them on (gateway, web client, `npm run auditor`): challenges on
 * `client`, another provider of the model (asked on the same client, never the suspect) as the
 * reference, reports signed by `reporter` and sent to the client's signaling server. The client
 * should require signed answers, so that every challenge's answer is evidence.
 */
export function auditOver(
  client: SilkClient,
  reporter: KeyPair,
  opts: Omit<AuditorOptions, "client" | "reference" | "reporter" | "submit"> & {
    /** Another reference than another provider: this device's own engine, say (no report then). */
    readonly reference?: AuditReference;
  } = {},
): Auditor {
  return new Auditor({
    client,
    reporter,
    submit: (r) => client.reportAudit(r),
    ...opts,
    reference: opts.reference ?? providerReference(client),
  });
}

/** Signed answers from an auditor's records: what it can show about a provider. */
export function answersOf(records: readonly AuditRecord[]): SignedAnswer[] {
  return records.flatMap((r) => (r.report ? [r.report.body.answer.signed] : []));
}

/** Why an inconclusive audit's reference did not force the tokens (when it says). */
function unforcedReason(method: ReferenceMethod, fallback: string | undefined): string {
  const why = fallback ? ` (${fallback})` : "";
  return method === "greedy-path"
    ? `the reference scored along its greedy path${why}`
    : `the reference was not asked to force the tokens${why}`;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : "error";
}
