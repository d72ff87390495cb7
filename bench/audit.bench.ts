/**
 * Issue 16's costs, each next to a baseline measured in the same run:
 * - signing an answer's statement (provider) and checking it (requester), per request, next to
 *   signing one receipt (which a requester already does every 16 tokens);
 * - an auditor at the default audit rate (5%) against the same requests unaudited, through a real
 *   signaling server and WebRTC (@roamhq/wrtc), test-double engines with logprobs: wall time and
 *   nanoTON spent.
 */
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { providerReference } from "../client/sdk/audit-reference";
import { Auditor } from "../client/sdk/auditor";
import type { ChatCompletion } from "../client/sdk/openai-shapes";
import type { SilkClient } from "../client/sdk/silk-client";
import {
  buildStatement,
  type ChatParams,
  DEFAULT_AUDIT_RATE,
  flatPrice,
  generateKeyPair,
  NETWORK_ID,
  signReceipt,
  signStatement,
  verifySignedAnswer,
} from "../protocol";
import { ProviderRuntime } from "../provider/runtime";
import { LogprobEngine, toyAnswer } from "../tests/doubles/logprob-engine";
import { seededRandom, ToyModel } from "../tests/doubles/toy-model";
import { cleanup, startServer } from "../tests/signaling/helpers";
import { auditClient } from "./audit-client";
import { fmt, printTable } from "./table";

const ESCROW = `0:${"11".repeat(32)}`;
const REQUESTS = 120;

function perCall(n: number, f: () => void): number {
  f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  return ((performance.now() - t) / n) * 1000;
}

function signingRows() {
  const identity = generateKeyPair();
  const rows: Record<string, string>[] = [];
  for (const tokens of [32, 256]) {
    const params: ChatParams = {
      model: "test-model",
      messages: [{ role: "user", content: "Explain in two sentences why the sky is blue." }],
      temperature: 0,
      seed: 1,
      logprobs: true,
      max_tokens: tokens,
    };
    const answer = toyAnswer(new ToyModel({ seed: 1 }), params, seededRandom(1));
    const facts = {
      session: "s",
      request: "r1",
      provider: identity.publicKey,
      params,
      content: answer,
      finishReason: "length" as const,
      promptTokens: 20,
      completionTokens: tokens,
    };
    const signed = signStatement(identity, buildStatement(facts));
    rows.push({
      "answer (with logprobs)": `${tokens} tokens`,
      "provider: build + sign µs": fmt(
        perCall(200, () => signStatement(identity, buildStatement(facts))),
        0,
      ),
      "requester: build + verify µs": fmt(
        perCall(200, () =>
          verifySignedAnswer({ statement: buildStatement(facts), signature: signed.signature }),
        ),
        0,
      ),
    });
  }
  const receipt = {
    network: NETWORK_ID.devnet,
    escrow: Address.parse(ESCROW),
    payout: Address.parse(`0:${"22".repeat(32)}`),
    keyEpoch: 0,
    tokens: 100n,
    amount: 1000n,
  };
  rows.push({
    "answer (with logprobs)": "baseline: sign one receipt",
    "provider: build + sign µs": "",
    "requester: build + verify µs": fmt(
      perCall(200, () => signReceipt(receipt, identity)),
      0,
    ),
  });
  return rows;
}

async function traffic(url: string, audited: boolean) {
  const client: SilkClient = await auditClient(url, ESCROW);
  // The reference is asked through its own client (and escrow), as the tests do.
  const referenceClient = await auditClient(url, `0:${"33".repeat(32)}`);
  const auditor = new Auditor({
    client,
    reference: providerReference(referenceClient),
    reporter: generateKeyPair(),
    random: seededRandom(audited ? 7 : 8),
    rate: audited ? DEFAULT_AUDIT_RATE : 0,
  });
  const app = auditor.wrap();
  const t = performance.now();
  let cost = 0n;
  for (let i = 0; i < REQUESTS; i++) {
    const r = (await app.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: `question ${i}` }],
      max_tokens: 32,
    })) as ChatCompletion;
    cost += BigInt(r.usage.silk?.cost_nanoton ?? "0");
  }
  await auditor.idle();
  const ms = performance.now() - t;
  client.close();
  referenceClient.close();
  return { ms, cost, audits: auditor.records };
}

export default async function auditBench(): Promise<void> {
  printTable("Signed answers: cost per request (µs, mean of 200)", signingRows());

  const { url } = await startServer();
  const served = (price: bigint) => [
    { model: "test-model", price: flatPrice(price), features: ["logprobs" as const, "scoring" as const] },
  ];
  const providers = await Promise.all(
    [10n, 10n].map((price, i) =>
      ProviderRuntime.start({
        signalingUrl: url,
        identity: generateKeyPair(),
        engine: new LogprobEngine({ model: { seed: 1 }, noise: 0.02, seed: i + 1 }),
        models: served(price),
        payout: `0:${(i ? "44" : "22").repeat(32)}`,
        capacity: 4,
        wrtc,
      }),
    ),
  );
  const rows: Record<string, string | number>[] = [];
  for (const audited of [false, true]) {
    const run = await traffic(url, audited);
    const auditCost = audited ? "each audit: a challenge and a reference request, paid apart" : "";
    rows.push({
      run: audited ? `audited at ${DEFAULT_AUDIT_RATE * 100}%` : "baseline: unaudited",
      requests: REQUESTS,
      audits: run.audits.length,
      failed: run.audits.filter((a) => a.verdict.result !== "pass").length,
      "wall ms": fmt(run.ms, 0),
      "ms per request": fmt(run.ms / REQUESTS, 1),
      "traffic nanoTON": run.cost.toString(),
      note: auditCost,
    });
  }
  printTable(`Auditor overhead (${REQUESTS} requests of 32 tokens, WebRTC, loopback)`, rows);
  for (const p of providers) p.stop();
  await cleanup();
}
