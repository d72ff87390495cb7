import type { Tokenizer } from "@mlc-ai/web-tokenizers";
import wrtc from "@roamhq/wrtc";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectGateway } from "../../client/gateway/gateway-client";
import { startGateway } from "../../client/gateway/gateway-server";
import { parseGatewayOptions } from "../../client/gateway/options";
import { type AuditReference, engineReference, providerReference } from "../../client/sdk/audit-reference";
import { Auditor } from "../../client/sdk/auditor";
import type { ChatCompletionCreateParams } from "../../client/sdk/openai-shapes";
import type { SilkClient } from "../../client/sdk/silk-client";
import {
  type AuditReport,
  answerTokens,
  auditsToCatch,
  checkReport,
  DEFAULT_TOLERANCE,
  type Feature,
  flatPrice,
  generateKeyPair,
  judgeAnswer,
  signReport,
} from "../../protocol";
import type { Engine } from "../../web/engines/engine";
import { ForcingProcessor } from "../../web/engines/forcing-processor";
import { scoreWebLlmForced } from "../../web/engines/webllm-forced-score";
import { LogprobEngine, type LogprobEngineOptions } from "../doubles/logprob-engine";
import { MlcLogitsDouble } from "../doubles/mlc-logits-engine";
import { seededRandom, type ToyModelSpec } from "../doubles/toy-model";
import { HeldBackEngine } from "../doubles/webllm-held-back";
import { WebLlmPageDouble } from "../doubles/webllm-page-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ESCROW, relayClient, relayProvider, stopAll } from "../support/silk-parties";
import { toyTokenizer } from "../support/web-tokenizers";

/**
 * Issue 16 through the real network: a suspect provider and an honest reference provider of the
 * same model on a real signaling server, over WebRTC (@roamhq/wrtc); an auditor client sends challenges to the
 * suspect (the cheapest, so it is paired first) and asks the reference, with `score`, through a
 * second client that never picks the suspect.
 */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterEach(() => stopAll());
afterAll(async () => {
  await cleanup();
});

const served = (price: bigint) => [
  { model: "test-model", price: flatPrice(price), features: ["logprobs" as const, "scoring" as const] },
];
const REFERENCE_ESCROW = `0:${"33".repeat(32)}`;
const Q = 0.99;
/** WebRTC data channels: the relay's per-session frame budget is not made for audits in a tight loop. */
const direct = { forceRelay: false, wrtc };

async function network(suspect: Omit<LogprobEngineOptions, "models">, suspectFeatures: Feature[] = []) {
  return networkWith(new LogprobEngine(suspect), suspectFeatures);
}

async function networkWith<E extends Engine>(suspect: E, suspectFeatures: Feature[] = []) {
  const reference = await relayProvider(url, {
    engine: new LogprobEngine({ model: { seed: 1 }, noise: DEFAULT_TOLERANCE.honestSigmaNats, seed: 5 }),
    models: served(20n),
    ...direct,
  });
  const accused = await relayProvider(url, {
    engine: suspect,
    models: [{ ...served(10n)[0]!, features: [...served(10n)[0]!.features, ...suspectFeatures] }],
    ...direct,
  });
  const reporter = generateKeyPair();
  const client = await relayClient(url, { requireSignedAnswers: true, ...direct });
  const referenceClient = await relayClient(url, {
    escrow: REFERENCE_ESCROW,
    requireSignedAnswers: true,
    ...direct,
  });
  const auditor = (ref: AuditReference = providerReference(referenceClient), maxTokens = 24) =>
    new Auditor({ client, reference: ref, reporter, random: seededRandom(3), maxTokens });
  return { reference, accused, auditor, reporter, referenceClient };
}

/**
 * What a third party does with a report it was sent: parse it from the wire, redo every check that
 * needs no model (`checkReport`), then re-run the last step with its own copy of the claimed
 * model (here the honest test engine): score the suspect's tokens, compare.
 */
async function thirdPartyVerdict(report: AuditReport | undefined) {
  const received: unknown = JSON.parse(JSON.stringify(report));
  const body = (received as AuditReport).body;
  // The reference's key, when the verdict rests on its scores, is the report's own (whoever counts
  // the report checks it is a provider there): said, then left out of what the cases compare.
  const { reference, ...check } = { reference: undefined as string | undefined, ...checkReport(received) };
  if (reference !== undefined) expect(reference).toBe(body.reference?.signed.statement.provider);
  const generated = body.answer.signed.statement.completion_tokens;
  const parts = answerTokens(body.answer.content, DEFAULT_TOLERANCE, generated);
  const own = new LogprobEngine({ model: { seed: 1 } });
  const scores = typeof parts === "string" ? [] : (await own.score(body.challenge, parts.tokens)).logprobs;
  const rerun = judgeAnswer(body.answer.content, scores, DEFAULT_TOLERANCE, generated);
  return { check, rerun: rerun.result };
}

/** Audits until one fails (or `limit` audits pass); returns how many it took and the failing record. */
async function auditUntilCaught(auditor: Auditor, limit: number) {
  for (let n = 1; n <= limit; n++) {
    const record = await auditor.audit("test-model");
    expect(record.verdict.result).not.toBe("error");
    if (record.verdict.result === "fail") return { n, record };
  }
  return { n: Number.POSITIVE_INFINITY, record: undefined };
}

/** The client, counting the scoring requests that ask for teacher forcing (a session request each). */
function forcedAsksOf(client: SilkClient, asks: string[]): SilkClient {
  const create = ((p: ChatCompletionCreateParams) => {
    if (p.score_method) asks.push(p.model);
    return client.chat.completions.create(p);
  }) as SilkClient["chat"]["completions"]["create"];
  return { ...client, chat: { completions: { create } } };
}

describe("audits through the real network", () => {
  it("never flag an honest provider whose logprobs carry noise within the tolerance", async () => {
    const { auditor, accused, reference } = await network({ model: { seed: 1 }, noise: 0.05, seed: 9 });
    const a = auditor();
    for (let i = 0; i < 60; i++) await a.audit("test-model");
    expect(a.records.filter((r) => r.verdict.result !== "pass").map((r) => r.verdict)).toEqual([]);
    // Each audit was a challenge to the suspect and a teacher-forced scoring by the reference.
    expect(a.records.every((r) => r.provider === accused.key)).toBe(true);
    expect(reference.engine.scored).toBe(60);
    // A passing audit is evidence too, and a third party checks it says "pass".
    expect(await thirdPartyVerdict(a.records[0]!.report)).toEqual({
      check: { ok: true, verdict: "pass", provider: accused.key, model: "test-model" },
      rerun: "pass",
    });
  }, 120_000);

  it.each<[string, ToyModelSpec]>([
    ["another model (a differently seeded engine)", { seed: 2 }],
    ["another quantisation (logprobs shifted beyond tolerance)", { seed: 1, quantisation: 1 }],
  ])(
    "catch a provider serving %s at the first audit, with a report a third party verifies",
    async (_n, model) => {
      const { auditor, accused } = await network({ model });
      const { n, record } = await auditUntilCaught(auditor(), auditsToCatch(1, Q, 0.999));
      expect(n).toBe(1);
      expect(await thirdPartyVerdict(record!.report)).toEqual({
        check: { ok: true, provider: accused.key, model: "test-model", verdict: "fail" },
        rerun: "fail",
      });
    },
    60_000,
  );

  it("catch a provider cheating on 10% of requests within the audits the statistics predict", async () => {
    const { auditor, accused } = await network({
      model: { seed: 1 },
      noise: 0.05,
      cheat: { fraction: 0.1, model: { seed: 2 } },
      seed: 21,
    });
    const predicted = auditsToCatch(0.1, Q, 0.999);
    const { n, record } = await auditUntilCaught(auditor(), predicted);
    expect(n).toBeLessThanOrEqual(predicted);
    // Caught exactly on the first request it cheated on, not on an honest one.
    expect(accused.engine.cheated.indexOf(true)).toBe(n - 1);
    expect(await thirdPartyVerdict(record!.report)).toEqual({
      check: { ok: true, provider: accused.key, model: "test-model", verdict: "fail" },
      rerun: "fail",
    });
  }, 120_000);

  it("pass an honest WebLLM provider that holds split characters back, and bill it every token", async () => {
    const { auditor, accused } = await networkWith(
      new HeldBackEngine({ model: { seed: 1 }, noise: DEFAULT_TOLERANCE.honestSigmaNats, seed: 9 }),
    );
    const a = auditor(undefined, 32);
    for (let i = 0; i < 16; i++) await a.audit("test-model");
    expect(a.records.filter((r) => r.verdict.result !== "pass").map((r) => r.verdict)).toEqual([]);
    // Held entries were in the answers, skipped and counted, not compared.
    const skipped = a.records.map((r) => (r.verdict.result === "error" ? 0 : (r.verdict.skipped ?? 0)));
    expect(skipped.filter((n) => n > 0).length).toBeGreaterThan(4);
    // Signed and paid for every token WebLLM generated, those it never streamed included.
    const last = a.records.at(-1)!.report!.body.answer;
    expect(last.signed.statement.completion_tokens).toBe(accused.engine.mlc.last.steps);
    const withHeld = a.records.find((r) => r.verdict.result !== "error" && r.verdict.skipped)!;
    expect(await thirdPartyVerdict(withHeld.report)).toEqual({
      check: { ok: true, verdict: "pass", provider: accused.key, model: "test-model" },
      rerun: "pass",
    });
  }, 120_000);

  it("catch another model served through WebLLM that holds split characters back, with a verified report", async () => {
    const { auditor, accused } = await networkWith(new HeldBackEngine({ model: { seed: 2 } }));
    const record = await auditor(undefined, 32).audit("test-model");
    expect(record.verdict).toMatchObject({ result: "fail" });
    expect(await thirdPartyVerdict(record.report)).toEqual({
      check: { ok: true, provider: accused.key, model: "test-model", verdict: "fail" },
      rerun: "fail",
    });
  }, 60_000);

  it("a local engine as the reference catches the same cheat (its scores are not evidence for others)", async () => {
    const { auditor } = await network({ model: { seed: 2 } });
    const local = new LogprobEngine({ model: { seed: 1 } });
    const record = await auditor(engineReference(local)).audit("test-model");
    expect(record.verdict.result).toBe("fail");
    expect(record.report).toBeUndefined();
    expect(local.scored).toBe(1);
  }, 60_000);

  it("a WebLLM device as the reference forces the tokens and catches another model; unable to force, it says why", async () => {
    const { auditor } = await network({ model: { seed: 2 } });
    const tokenizer = await toyTokenizer();
    const webllm = (codec: () => Promise<Tokenizer>) => {
      const processor = new ForcingProcessor();
      const engine = new MlcLogitsDouble({ seed: 1 }, processor);
      const forcing = { arm: (ids: Int32Array) => processor.arm(ids), take: async () => processor.take() };
      return engineReference({
        score: (r, tokens) => scoreWebLlmForced(engine, forcing, codec, r, tokens),
      });
    };
    const forced = await auditor(webllm(async () => tokenizer)).audit("test-model");
    expect(forced.verdict).toMatchObject({ result: "fail", compared: 24 });
    const unforced = await auditor(webllm(() => Promise.reject(new Error("no tokenizer.json")))).audit(
      "test-model",
    );
    expect(unforced.verdict.result).toBe("inconclusive");
    expect(unforced.verdict.reason).toMatch(
      /the reference scored along its greedy path \(the model's tokenizer could not be loaded: no tokenizer.json\)/,
    );
  }, 60_000);

  /**
   * Provider pages (WebLLM, WebLlmPageDouble) as the reference, one with "Serve as an audit
   * reference" on (the forcing processor, feature `forced_scoring`) and one without; the suspect
   * serves another model, whose answer leaves the reference's greedy path within its first tokens.
   */
  async function pageNetwork(pages: readonly { reference: boolean; price: bigint; noTokenizer?: boolean }[]) {
    const forcedAsks: string[] = [];
    const tokenizer = await toyTokenizer();
    const engines = pages.map(
      (p) =>
        new WebLlmPageDouble(
          { seed: 1 },
          {
            reference: p.reference,
            tokenizer: async () => {
              if (p.noTokenizer) throw new Error("no tokenizer.json");
              return tokenizer;
            },
          },
        ),
    );
    for (const [i, p] of pages.entries()) {
      const features: Feature[] = [
        "logprobs",
        "scoring",
        ...(p.reference ? ["forced_scoring" as const] : []),
      ];
      await relayProvider(url, {
        engine: engines[i]!,
        models: [{ model: "test-model", price: flatPrice(p.price), features }],
        ...direct,
      });
    }
    const accused = await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 2 } }),
      models: served(10n),
      ...direct,
    });
    const client = await relayClient(url, { requireSignedAnswers: true, ...direct });
    const referenceClient = await relayClient(url, {
      escrow: REFERENCE_ESCROW,
      requireSignedAnswers: true,
      ...direct,
    });
    // The directory (a snapshot up to 500 ms old, then pushed) lists what the pages declare.
    const listed = async () =>
      (await referenceClient.models.list()).data[0]?.features.includes("forced_scoring");
    // The earlier tests' pages must be gone from it too.
    await expect.poll(listed, { timeout: 10_000 }).toBe(pages.some((p) => p.reference));
    const auditor = new Auditor({
      client,
      reference: providerReference(forcedAsksOf(referenceClient, forcedAsks)),
      reporter: generateKeyPair(),
      random: seededRandom(3),
      maxTokens: 24,
    });
    return { engines, accused, auditor, forcedAsks };
  }

  it("a provider page serving as an audit reference forces the suspect's tokens and catches another model a greedy-path page cannot", async () => {
    // The page without forcing is cheaper: plain scoring would be paired with it first.
    const { engines, accused, auditor } = await pageNetwork([
      { reference: false, price: 15n },
      { reference: true, price: 20n },
    ]);
    const record = await auditor.audit("test-model");
    expect(record).toMatchObject({
      provider: accused.key,
      method: "teacher-forcing",
      verdict: { result: "fail", compared: 24 },
    });
    expect(engines.map((e) => e.methods)).toEqual([[], ["teacher-forcing"]]);
    // The method is under the reference's signature: its request hash covers `score_method`.
    expect(record.report!.body.reference!.request.score_method).toBe("teacher-forcing");
    expect(await thirdPartyVerdict(record.report)).toEqual({
      check: { ok: true, provider: accused.key, model: "test-model", verdict: "fail" },
      rerun: "fail",
    });
  }, 60_000);

  it("with no provider forcing tokens online, the reference falls back to plain scoring and the verdict says so", async () => {
    const { engines, auditor, forcedAsks } = await pageNetwork([{ reference: false, price: 15n }]);
    const record = await auditor.audit("test-model");
    expect(engines[0]!.methods).toEqual(["greedy-path"]);
    // The directory lists nobody with forced_scoring: no forced request is sent to be refused.
    expect(forcedAsks).toEqual([]);
    expect(record.method).toBe("unstated");
    expect(record.verdict.result).toBe("inconclusive");
    const verdict = record.verdict as { compared: number; reason: string };
    // Another model's answer leaves the page's greedy path at its second token: one scored, too
    // few to compare (today's verdict wherever no page serves as a reference).
    expect(verdict.compared).toBe(1);
    expect(verdict.compared).toBeLessThan(DEFAULT_TOLERANCE.minTokens);
    expect(verdict.reason).toMatch(
      /the reference was not asked to force the tokens \(no other provider forced the tokens: .*forced.scoring/,
    );
    expect(record.report).toBeUndefined();
  }, 60_000);

  it("a forcing page that cannot force the tokens refuses to score them as if it had; the audit falls back and says why", async () => {
    const { engines, auditor } = await pageNetwork([{ reference: true, price: 15n, noTokenizer: true }]);
    const record = await auditor.audit("test-model");
    // Asked to force, it scored along its greedy path and refused to answer so; asked for plain
    // scoring next, it answered along that path.
    expect(engines[0]!.methods).toEqual(["greedy-path", "greedy-path"]);
    expect(record).toMatchObject({ method: "unstated", verdict: { result: "inconclusive", compared: 1 } });
    // The provider's refusal reaches the auditor in the SDK's words (protocol/provider-said.ts),
    // not its own text (which named the missing tokenizer.json), naming the field it refused.
    expect(record.verdict.reason).toMatch(
      /no other provider forced the tokens: the provider does not support something this request needs \(score_method\)/,
    );
  }, 60_000);

  it("a suspect that alone offers forcing is never its own reference: the audit falls back to plain scoring and says so", async () => {
    const { auditor, accused, referenceClient } = await network({ model: { seed: 2 } }, ["forced_scoring"]);
    const forcedAsks: string[] = [];
    const a = auditor(providerReference(forcedAsksOf(referenceClient, forcedAsks)));
    const record = await a.audit("test-model");
    expect(record).toMatchObject({ provider: accused.key, method: "unstated", verdict: { result: "fail" } });
    expect(accused.engine.scored).toBe(0);
    expect(record.report!.body.reference!.request.score_method).toBeUndefined();
    // Signaling placed no forced request: the next audit of that suspect does not ask again (each
    // refused request costs one of the requester's rate-limited session requests).
    expect((await a.audit("test-model")).method).toBe("unstated");
    expect(forcedAsks).toEqual(["test-model"]);
  }, 60_000);

  it("one client as auditor and reference, two providers sharing a payout: the reference waits its turn", async () => {
    // Both providers pay to one address: the client's one session on that receipt stream is the
    // suspect's, so the reference is opened once that session has closed (idle), rather than
    // looping on session requests until the server's rate limit refuses them.
    await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 1 } }),
      models: served(20n),
      ...direct,
    });
    await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 2 } }),
      models: served(10n),
      ...direct,
    });
    const client = await relayClient(url, { requireSignedAnswers: true, idleCloseMs: 300, ...direct });
    const auditor = new Auditor({
      client,
      reference: providerReference(client),
      reporter: generateKeyPair(),
    });
    const record = await auditor.audit("test-model");
    expect(record.verdict).toMatchObject({ result: "fail" });
  }, 60_000);

  it("forged reports are refused: an altered answer, reference scores, verdict or reporter signature", async () => {
    const { auditor, reporter } = await network({ model: { seed: 1 }, noise: 0.05 });
    const { report } = await auditor().audit("test-model");
    expect(checkReport(report)).toMatchObject({ ok: true, verdict: "pass" });
    const body = report!.body;
    const resign = (b: AuditReport["body"]) => signReport(reporter, b);
    // Claiming the honest answer failed: the evidence says pass.
    expect(checkReport(resign({ ...body, verdict: "fail" }))).toMatchObject({ ok: false });
    // Lowering the reference's scores so the comparison fails: its signature no longer matches.
    const lowered = body.reference!.content.logprobs!.map((l) => ({ ...l, logprob: l.logprob - 1 }));
    const forged = resign({
      ...body,
      verdict: "fail",
      reference: { ...body.reference!, content: { ...body.reference!.content, logprobs: lowered } },
    });
    expect(checkReport(forged)).toMatchObject({
      ok: false,
      reason: "reference: the statement is for other logprobs",
    });
    // Putting words in the suspect's mouth: its signature no longer matches.
    const words = resign({
      ...body,
      answer: { ...body.answer, content: { ...body.answer.content, text: "x" } },
    });
    expect(checkReport(words)).toMatchObject({
      ok: false,
      reason: "suspect: the statement is for other tokens",
    });
    // Changing anything after the reporter signed.
    expect(checkReport({ ...report!, body: { ...body, verdict: "fail" } })).toEqual({
      ok: false,
      reason: "the reporter's signature does not verify",
    });
  }, 60_000);

  it("a gateway started with --audit-rate sends challenges and reports a cheater through the network", async () => {
    // Payouts of their own: the gateway's one client is its auditor and its reference too.
    await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 1 } }),
      models: served(20n),
      payout: `0:${"44".repeat(32)}`,
      ...direct,
    });
    const cheater = await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 2 } }),
      models: served(10n),
      payout: `0:${"55".repeat(32)}`,
      ...direct,
    });
    const flags = ["--escrow", ESCROW, "--max-price", "100", "--signaling", url, "--trust-server"];
    const config = parseGatewayOptions([...flags, "--audit-rate", "1"], {});
    const { client, auditor } = await connectGateway(config, generateKeyPair(), direct);
    const gateway = await startGateway({ client });
    try {
      const res = await fetch(`${gateway.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "test-model", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      await auditor!.idle();
      // The caller's request brought one challenge along, to the cheapest provider: the cheater.
      expect(auditor!.records).toHaveLength(1);
      const [record] = auditor!.records;
      expect(record).toMatchObject({ provider: cheater.key, verdict: { result: "fail" } });
      expect(record!.submitError).toBeUndefined();
      expect(checkReport(record!.report)).toMatchObject({ ok: true, verdict: "fail", provider: cheater.key });
      const { audits } = (await (await fetch(`${url}/api/models`)).json()) as { audits: unknown[] };
      expect(audits).toContainEqual({ provider: cheater.key, model: "test-model", passed: 0, failed: 1 });
    } finally {
      await gateway.close();
      client.close();
    }
    // Without the flags, no audits.
    expect(parseGatewayOptions(flags, {}).audits).toEqual({ rate: 0 });
  }, 60_000);
});
