import wrtc from "@roamhq/wrtc";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { providerReference } from "../../client/sdk/audit-reference";
import { Auditor } from "../../client/sdk/auditor";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { SignalingClient } from "../../peer/signaling-client";
import {
  type AuditReport,
  flatPrice,
  generateKeyPair,
  logprobsHash,
  signReport,
  signStatement,
  toHex,
} from "../../protocol";
import { AUDIT_DROP_FAILURES, MAX_FORGED_REPORTS } from "../../signaling/directory/audit-ledger";
import { LogprobEngine } from "../doubles/logprob-engine";
import { seededRandom, type ToyModelSpec } from "../doubles/toy-model";
import { cleanup, provider, startServer } from "../signaling/helpers";
import { startRedis } from "../signaling/redis-server";
import { ask, PAYOUT, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Issue 16: reports reach the signaling server, which counts them only when the evidence checks
 * out, shows the counts in /api/models, offers providers with failed audits last and drops them
 * past the threshold, honours a policy's minimum of audits passed, and holds forgeries against
 * their reporter. A real server, real providers and clients over WebRTC.
 */
let url: string;
let signaling: SignalingClient;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterEach(() => {
  stopAll();
  signaling?.close();
});
afterAll(async () => {
  await cleanup();
});

const direct = { forceRelay: false, wrtc };
/** A Registry entry as providers declare it: a request with a policy is offered only those that have one. */
const entry = { owner: PAYOUT, stake: 0n, registeredAt: 1 };
const served = (price: bigint) => [
  { model: "test-model", price: flatPrice(price), features: ["logprobs" as const, "scoring" as const] },
];

async function market(suspect: ToyModelSpec, submit = true, at = url) {
  const reference = await relayProvider(at, {
    engine: new LogprobEngine({ model: { seed: 1 } }),
    models: served(20n),
    capacity: 4,
    entry,
    ...direct,
  });
  const accused = await relayProvider(at, {
    engine: new LogprobEngine({ model: suspect }),
    models: served(10n),
    capacity: 4,
    entry,
    ...direct,
  });
  const client = await relayClient(at, { requireSignedAnswers: true, ...direct });
  const referenceClient = await relayClient(at, { escrow: `0:${"33".repeat(32)}`, ...direct });
  signaling = await SignalingClient.connect(at);
  const reporter = generateKeyPair();
  const auditor = new Auditor({
    client,
    reference: providerReference(referenceClient),
    reporter,
    random: seededRandom(4),
    maxTokens: 20,
    ...(submit && { submit: (r: AuditReport) => signaling.reportAudit(r) }),
  });
  return { reference, accused, auditor, reporter };
}

async function modelsAudits(): Promise<
  { provider: string; model: string; passed: number; failed: number }[]
> {
  const res = await fetch(`${url}/api/models`);
  return ((await res.json()) as { audits: never[] }).audits;
}

describe("audit reports at the signaling server", () => {
  it("counts a checked report once, shows it, ranks the provider last, then drops it past the threshold", async () => {
    const { accused, reference, auditor } = await market({ seed: 2 });
    const first = await auditor.audit("test-model");
    expect(first.verdict.result).toBe("fail");
    expect(first.submitError).toBeUndefined();
    expect(await modelsAudits()).toContainEqual({
      provider: accused.key,
      model: "test-model",
      passed: 0,
      failed: 1,
    });
    // The same signed answer reported again is not counted twice.
    expect(await signaling.reportAudit(first.report)).toMatchObject({ counted: false, failed: 1 });

    // Flagged: a newcomer is offered the dearer provider with a clean record first.
    const newcomer = await relayClient(url, direct);
    const answer = (await ask(newcomer, "hello")) as ChatCompletion;
    expect(answer.usage.silk?.provider).toBe(reference.key);

    for (let i = 1; i < AUDIT_DROP_FAILURES; i++)
      expect((await auditor.audit("test-model")).verdict.result).toBe("fail");
    const row = (await modelsAudits()).find((r) => r.provider === accused.key);
    expect(row).toMatchObject({ failed: AUDIT_DROP_FAILURES, dropped: true });
    // Dropped: with the honest provider gone, nobody is offered rather than the cheat.
    reference.runtime.stop();
    const late = await relayClient(url, direct);
    await expect(ask(late, "anyone?")).rejects.toMatchObject({ name: "NoProviderError" });
  }, 90_000);

  it("refuses forged reports, holds them against the reporter, and stops hearing it", async () => {
    const { auditor, reporter } = await market({ seed: 1 });
    const honest = await auditor.audit("test-model");
    expect(honest.verdict.result).toBe("pass");
    const body = honest.report!.body;
    const forger = generateKeyPair();
    const forged: AuditReport = signReport(forger, { ...body, verdict: "fail" });
    for (let i = 0; i < MAX_FORGED_REPORTS; i++)
      await expect(signaling.reportAudit(forged)).rejects.toMatchObject({ code: "REPORT_REFUSED" });
    // Past the limit even its true report is not heard.
    await expect(signaling.reportAudit(signReport(forger, body))).rejects.toThrow(/too many false reports/);
    // A report nobody signed counts against nobody, and is refused.
    await expect(
      signaling.reportAudit({ ...honest.report!, body: { ...body, verdict: "fail" } }),
    ).rejects.toThrow(/signature does not verify/);
    // The honest auditor's pass stands, and the provider has no failure.
    expect(honest.submitError).toBeUndefined();
    expect(honest.report!.reporter).toBe(Buffer.from(reporter.publicKey).toString("hex"));
    const row = (await modelsAudits()).find((r) => r.provider === honest.provider);
    expect(row).toMatchObject({ passed: 1, failed: 0 });
  }, 60_000);

  it("a report whose reference is a key of the reporter's own (no provider registered here) is refused: nobody framed, nothing counted", async () => {
    // It counted: any key could sign "reference scores" that fail an honest answer, so anyone
    // could have any provider flagged and, with three paid requests, dropped (or pump a cheat's
    // passes past a policy's minimum).
    // An audit kept back (not submitted): its signed answer is counted by nobody yet.
    const { auditor, accused, reference } = await market({ seed: 1 }, false);
    const honest = await auditor.audit("test-model");
    expect(honest.verdict.result).toBe("pass");
    const body = honest.report!.body;
    const ref = body.reference!;
    expect(ref.signed.statement.provider).toBe(reference.key);
    // The same scoring request, answered by a key made up for it, with scores far from the suspect's.
    const made = generateKeyPair();
    const content = { ...ref.content, logprobs: ref.content.logprobs!.map((l) => ({ ...l, logprob: -30 })) };
    const statement = {
      ...ref.signed.statement,
      provider: toHex(made.publicKey),
      logprobs_hash: logprobsHash(content.logprobs),
    };
    const framing = signReport(generateKeyPair(), {
      ...body,
      verdict: "fail",
      reference: { ...ref, content, signed: signStatement(made, statement) },
    });
    await expect(signaling.reportAudit(framing)).rejects.toMatchObject({
      code: "REPORT_REFUSED",
      message: expect.stringContaining(`the reference ${toHex(made.publicKey)} is no provider of test-model`),
    });
    expect((await modelsAudits()).find((r) => r.provider === accused.key)).toBeUndefined();
    // The honest report of the same answer still counts.
    expect(await signaling.reportAudit(honest.report!)).toMatchObject({
      counted: true,
      passed: 1,
      failed: 0,
    });
  }, 60_000);

  it("a requester's minimum of audits passed offers only providers with that many, without a Registry policy", async () => {
    const { accused, auditor } = await market({ seed: 1 });
    expect((await auditor.audit("test-model")).verdict.result).toBe("pass");
    // No `trust`: the minimum still reaches the server, which offers only the audited provider.
    // (Escrows of their own: a receipt stream per escrow and payout is the auditor's already.)
    const requester = (min: number, escrow: string) =>
      relayClient(url, { minAuditsPassed: min, escrow, ...direct });
    const one = (await ask(await requester(1, `0:${"44".repeat(32)}`))) as ChatCompletion;
    expect(one.usage.silk?.provider).toBe(accused.key);
    await expect(ask(await requester(2, `0:${"55".repeat(32)}`))).rejects.toMatchObject({
      name: "NoProviderError",
    });
  }, 60_000);

  it("checks a report's reference with one Redis read, however many providers serve the model", async () => {
    // It read every provider of the model (SMEMBERS and one HGETALL each) to find one key.
    const redis = await startRedis();
    let server: Awaited<ReturnType<typeof startServer>>["server"] | undefined;
    try {
      const started = await startServer({ redisUrl: redis.url, redisPrefix: "audit:" });
      server = started.server;
      const shared = started.url;
      const { auditor } = await market({ seed: 1 }, false, shared);
      const honest = await auditor.audit("test-model");
      expect(honest.verdict.result).toBe("pass");
      // Forty more providers of the model, registered after the audit (they answer nobody).
      for (let i = 0; i < 40; i++)
        await provider(shared, { models: [{ model: "test-model", price: flatPrice(1_000n) }] });
      const reads = async () => {
        const text = await (await fetch(`${shared}/metrics`)).text();
        return Number(/^silk_redis_commands_total\{op="read"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      };
      // What reading /metrics itself costs (the session count), measured with nothing between.
      await new Promise((r) => setTimeout(r, 1_000));
      const first = await reads();
      const before = await reads();
      const own = before - first;
      expect(await signaling.reportAudit(honest.report!)).toMatchObject({ counted: true, passed: 1 });
      expect((await reads()) - before - own).toBeLessThanOrEqual(2);
    } finally {
      // Closed before its Redis stops, whether or not an assertion above failed.
      stopAll();
      signaling.close();
      await server?.close();
      await redis.stop();
    }
  }, 90_000);
});
