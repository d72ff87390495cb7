import { sha256 } from "@noble/hashes/sha2.js";
import * as v from "valibot";
import { type AnswerContent, SignedAnswer, statementMismatch } from "./answer-statement";
import {
  type AuditResult,
  type AuditTolerance,
  answerTokens,
  DEFAULT_TOLERANCE,
  judgeAnswer,
} from "./audit-check";
import { fromHex, lengthPrefixed, toHex, utf8 } from "./encoding";
import { type KeyPair, sign, verify } from "./identity";
import { MAX_COMPLETION_TOKENS } from "./limits";
import { canonicalJson } from "./registration";
import { LogprobEntry, ToolCall } from "./schemas/chat";
import { Hex32, Hex64 } from "./schemas/common";
import { type ChatParams, ChatRequest } from "./schemas/session";

/**
 * An audit's evidence, which anyone can check: the challenge, the suspect's answer and its signed
 * statement, and the reference's teacher-forced scores of the suspect's tokens with the reference
 * provider's own signed statement of them. The reporter signs the whole under its own label.
 * `checkReport` redoes every check (signatures, hashes, the comparison); re-running the reference
 * on a model adds the last one (the reference's scores are what the model gives).
 */
export const AUDIT_REPORT_LABEL = "silk/v1 audit-report";

const Params = v.omit(ChatRequest, ["v", "t", "id"]);
const Content = v.object({
  text: v.pipe(v.string(), v.maxLength(256 * 1024)),
  toolCalls: v.optional(v.pipe(v.array(ToolCall), v.maxLength(16))),
  logprobs: v.optional(v.pipe(v.array(LogprobEntry), v.maxLength(MAX_COMPLETION_TOKENS))),
});

export const AuditReportBody = v.object({
  v: v.literal(1),
  /** What the auditor concluded: the server checks the evidence says the same. */
  verdict: v.picklist(["pass", "fail"]),
  challenge: Params,
  answer: v.object({ content: Content, signed: SignedAnswer }),
  /** Absent only when the answer convicts itself (its logprobs do not spell its text). */
  reference: v.optional(
    v.object({
      /** The request the reference answered: the challenge with `score` set to the suspect's tokens. */
      request: Params,
      content: Content,
      signed: SignedAnswer,
    }),
  ),
});
export type AuditReportBody = v.InferOutput<typeof AuditReportBody>;
/** A challenge (and a reference's scoring request) as a report carries it. */
export type AuditChallenge = AuditReportBody["challenge"];

export const AuditReport = v.object({ body: AuditReportBody, reporter: Hex32, signature: Hex64 });
export type AuditReport = v.InferOutput<typeof AuditReport>;

/** The signaling event `audit:report` (acked with the provider's counts for the model). */
export const AuditReportEvent = v.object({ v: v.literal(1), report: v.unknown() });
/** A report is larger than other signaling events (two answers with their logprobs). */
export const MAX_AUDIT_REPORT_BYTES = 128 * 1024;

export function reportBytes(body: AuditReportBody): Uint8Array {
  return lengthPrefixed(utf8(AUDIT_REPORT_LABEL), sha256(utf8(canonicalJson(body))));
}

export function signReport(reporter: KeyPair, body: AuditReportBody): AuditReport {
  return {
    body,
    reporter: toHex(reporter.publicKey),
    signature: toHex(sign(reporter.secretKey, reportBytes(body))),
  };
}

/** A report's identity: one signed answer is counted once, whoever reports it. */
export function reportKey(report: AuditReport): string {
  const s = report.body.answer.signed.statement;
  return `${s.provider}/${s.session}/${s.request}`;
}

export type ReportCheck =
  | {
      readonly ok: true;
      readonly provider: string;
      readonly model: string;
      readonly verdict: "pass" | "fail";
      /**
       * The reference provider's key, when the verdict rests on its scores: anyone can make a key,
       * so whoever counts the report checks it is a provider of the model (signaling/audit-events.ts).
       */
      readonly reference?: string;
    }
  /** `reporter` is set when its signature verified: the forgery is then its own. */
  | { readonly ok: false; readonly reason: string; readonly reporter?: string };

/**
 * Everything about a report that needs no model: the reporter's signature; the suspect's
 * statement signed and matching the challenge and answer; a deterministic challenge with
 * logprobs; a reference that is another provider, signed, scoring exactly the suspect's tokens
 * after the same prompt; and the comparison giving the reported verdict.
 */
export function checkReport(input: unknown, tol: AuditTolerance = DEFAULT_TOLERANCE): ReportCheck {
  const parsed = v.safeParse(AuditReport, input);
  if (!parsed.success) return { ok: false, reason: "the report is malformed" };
  const report = parsed.output;
  let signed = false;
  try {
    signed = verify(
      fromHex(report.reporter, 32, "reporter"),
      reportBytes(report.body),
      fromHex(report.signature, 64, "signature"),
    );
  } catch {
    return { ok: false, reason: "the reporter's key or signature is malformed" };
  }
  if (!signed) return { ok: false, reason: "the reporter's signature does not verify" };
  const check = checkBody(report.body, tol);
  return check.ok ? check : { ...check, reporter: report.reporter };
}

function checkBody(body: AuditReportBody, tol: AuditTolerance): ReportCheck {
  const challenge = body.challenge as ChatParams;
  if (challenge.temperature !== 0 || !challenge.logprobs || challenge.score)
    return { ok: false, reason: "the challenge is not greedy with logprobs" };
  const suspect = statementMismatch(body.answer.signed, challenge, body.answer.content as AnswerContent);
  if (suspect) return { ok: false, reason: `suspect: ${suspect}` };
  const content = body.answer.content as AnswerContent;
  const generated = body.answer.signed.statement.completion_tokens;
  const parts = answerTokens(content, tol, generated);
  let verdict: AuditResult;
  let reference: string | undefined;
  if (typeof parts === "string") verdict = "fail";
  else {
    const ref = body.reference;
    if (!ref) return { ok: false, reason: "the report has no reference scores" };
    const refRequest = ref.request as ChatParams;
    if (ref.signed.statement.provider === body.answer.signed.statement.provider)
      return { ok: false, reason: "the reference is the suspect itself" };
    if (
      refRequest.model !== challenge.model ||
      canonicalJson(refRequest.messages) !== canonicalJson(challenge.messages) ||
      canonicalJson(refRequest.score ?? []) !== canonicalJson(parts.tokens) ||
      !refRequest.logprobs
    )
      return { ok: false, reason: "the reference did not score the suspect's tokens after the same prompt" };
    const refMismatch = statementMismatch(ref.signed, refRequest, ref.content as AnswerContent);
    if (refMismatch) return { ok: false, reason: `reference: ${refMismatch}` };
    // The reference's tokens are the suspect's, all or a prefix (a greedy-path reference).
    const scored = ref.content.logprobs ?? [];
    if (scored.length > parts.tokens.length || scored.some((l, i) => l.token !== parts.tokens[i]))
      return { ok: false, reason: "the reference scored other tokens than the suspect's" };
    const scores = scored.map((l) => l.logprob);
    reference = ref.signed.statement.provider;
    verdict = judgeAnswer(content, scores, tol, generated).result;
  }
  if (verdict !== body.verdict)
    return { ok: false, reason: `the evidence says ${verdict}, the report says ${body.verdict}` };
  const s = body.answer.signed.statement;
  return {
    ok: true,
    provider: s.provider,
    model: s.model,
    verdict: body.verdict,
    ...(reference && { reference }),
  };
}
