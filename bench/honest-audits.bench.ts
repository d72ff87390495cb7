/**
 * Issue 16's "an honest provider is never flagged over 10,000 audits", through the real network:
 * a real signaling server on loopback, two honest providers (LogprobEngine test doubles, noise
 * within the tolerance) in their own process, an auditor and its reference client over WebRTC
 * (@roamhq/wrtc). Each audit is what `Auditor.audit` always does: a challenge on the auditor's
 * client (pooled sessions, as its traffic uses them) and the reference provider's scoring of the
 * answer's tokens, then the check. Audits run `BENCH_AUDIT_CONCURRENCY` at a time (4), as an
 * auditor's wrapped traffic runs them beside its requests.
 *
 * Baseline, same run: the same challenges sent as ordinary requests (no reference, no check).
 * `BENCH_AUDITS` (10,000) and `BENCH_AUDIT_SECONDS` (1,800: the run stops there and reports how
 * many it reached) bound it.
 */
import { providerReference } from "../client/sdk/audit-reference";
import { Auditor, type AuditRecord } from "../client/sdk/auditor";
import type { ChatCompletionCreateParams } from "../client/sdk/openai-shapes";
import { DEFAULT_TOLERANCE, generateKeyPair } from "../protocol";
import { seededRandom } from "../tests/doubles/toy-model";
import { cleanup, startServer } from "../tests/signaling/helpers";
import { auditClient } from "./audit-client";
import { spawnScript } from "./signaling-clients";
import { fmt, percentile, printTable } from "./table";

const AUDITS = Number(process.env.BENCH_AUDITS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_AUDIT_CONCURRENCY ?? 4);
const SECONDS = Number(process.env.BENCH_AUDIT_SECONDS ?? 1800);
const BASELINE = Math.min(AUDITS, 500);
const SEQUENTIAL = Math.min(AUDITS, 200);

interface Run {
  readonly count: number;
  readonly ms: number;
  readonly latencies: number[];
}

/** `count` jobs, `concurrency` at a time, until `deadline` (performance.now()). */
async function loop(
  count: number,
  concurrency: number,
  deadline: number,
  job: () => Promise<void>,
): Promise<Run> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count && performance.now() < deadline) {
        started++;
        const t = performance.now();
        await job();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { count: latencies.length, ms: performance.now() - t0, latencies: latencies.sort((a, b) => a - b) };
}

class Tally {
  readonly results = { pass: 0, fail: 0, inconclusive: 0, error: 0 };
  worstRms = 0;
  firstProblem: AuditRecord["verdict"] | undefined;

  add(record: AuditRecord): void {
    const v = record.verdict;
    this.results[v.result]++;
    if (v.result !== "error") this.worstRms = Math.max(this.worstRms, v.rms);
    if (v.result !== "pass") this.firstProblem ??= v;
  }
}

function row(name: string, run: Run, tally?: Tally): Record<string, string | number> {
  return {
    run: name,
    done: run.count,
    "wall s": fmt(run.ms / 1000, 1),
    "per s": fmt((run.count * 1000) / run.ms, 1),
    "p50 ms": fmt(percentile(run.latencies, 50), 0),
    "p99 ms": fmt(percentile(run.latencies, 99), 0),
    passed: tally?.results.pass ?? "",
    "flagged (false)": tally?.results.fail ?? "",
    inconclusive: tally?.results.inconclusive ?? "",
    errors: tally?.results.error ?? "",
    "worst RMS / τ": tally ? fmt(tally.worstRms / DEFAULT_TOLERANCE.rmsNats, 2) : "",
  };
}

export default async function honestAuditsBench(): Promise<void> {
  const { url } = await startServer();
  const providers = await spawnScript("bench/audit-providers.ts", { SIGNALING_URL: url }, "ready");
  const client = await auditClient(url, `0:${"11".repeat(32)}`);
  const referenceClient = await auditClient(url, `0:${"33".repeat(32)}`);
  let tally = new Tally();
  const auditor = new Auditor({
    client,
    reference: providerReference(referenceClient),
    reporter: generateKeyPair(),
    random: seededRandom(16),
    onAudit: (record) => {
      tally.add(record);
      // 10,000 records with their evidence are ~100 MB the bench has no use for once counted.
      auditor.records.length = 0;
    },
  });
  const deadline = performance.now() + SECONDS * 1000;
  const rows: Record<string, string | number>[] = [];
  try {
    const baseline = await loop(BASELINE, CONCURRENCY, deadline, async () => {
      const challenge = auditor.challengeFor("test-model");
      await client.chat.completions.create({ ...(challenge as ChatCompletionCreateParams), stream: false });
    });
    rows.push(row(`baseline: challenges as ordinary requests, ${CONCURRENCY} at a time`, baseline));
    const one = await loop(SEQUENTIAL, 1, deadline, () => auditor.audit("test-model").then(() => {}));
    rows.push(row("audits, one at a time", one, tally));
    tally = new Tally();
    const many = await loop(AUDITS, CONCURRENCY, deadline, async () => {
      await auditor.audit("test-model");
      const n = Object.values(tally.results).reduce((a, b) => a + b, 0);
      if (n % 1000 === 0) console.error(`  ${n} audits, ${tally.results.fail} flagged`);
    });
    rows.push(row(`audits, ${CONCURRENCY} at a time`, many, tally));
  } finally {
    client.close();
    referenceClient.close();
    await providers.stop();
    await cleanup();
  }
  const flagged = rows.some((r) => Number(r["flagged (false)"]) > 0);
  printTable(
    `Honest audits through the network (2 providers in another process, noise σ = ${DEFAULT_TOLERANCE.honestSigmaNats}/√2 each; τ = ${DEFAULT_TOLERANCE.rmsNats} nats; 32 tokens)`,
    rows,
  );
  if (tally.firstProblem) console.log("first audit that did not pass:", tally.firstProblem);
  if (flagged) console.log("AN HONEST PROVIDER WAS FLAGGED: the tolerance or the check is wrong.");
}
