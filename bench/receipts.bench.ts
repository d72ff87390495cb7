/**
 * The headless provider's receipt store under load: receipts per second and per-receipt latency
 * with 32 sessions each putting receipts on its own stream (awaiting each, as the serving loop
 * does), on an empty store and on one holding 10,000 streams, for the fsynced receipt log, the
 * JSON file it replaced (measured in the same run) and memory alone (the ceiling). The stores
 * never check signatures (the serving loop has, before it puts), so receipts carry a placeholder
 * signature: signing would otherwise be most of what is timed. Log runs are long enough to
 * include their compactions.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeSignedReceipt, type SignedReceipt, streamId } from "../protocol";
import { ReceiptLogStore } from "../provider/headless/receipt-log-store";
import {
  latestReceipt,
  MemoryReceiptStore,
  type ReceiptStore,
  type StreamRecord,
} from "../provider/receipt-store";
import { receiptFor } from "../tests/provider/receipt-streams";
import { JsonFileReceiptStore } from "./fixtures/json-file-receipt-store";
import { fmt, percentile, printTable } from "./table";

const SESSIONS = 32;
const ON_FILE = 10_000;
const LOG_RECEIPTS = 12_000;
const JSON_SECONDS = 4;

function unsigned(stream: number, tokens: number): SignedReceipt {
  return {
    receipt: receiptFor(stream, tokens),
    sessionKey: new Uint8Array(32).fill(7),
    signature: new Uint8Array(64).fill(9),
  };
}

/** Records of `n` streams other than the sessions' (stream numbers from 1,000,000). */
function filler(n: number): StreamRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const signed = unsigned(1_000_000 + i, 100);
    return { id: streamId(signed.receipt), latest: encodeSignedReceipt(signed), claimed: 0n, updatedAt: 0 };
  });
}

async function load(store: ReceiptStore, opts: { receipts?: number; seconds?: number }) {
  const latencies: number[] = [];
  let next = 0;
  const until = opts.seconds ? performance.now() + opts.seconds * 1000 : Number.POSITIVE_INFINITY;
  const limit = opts.receipts ?? Number.POSITIVE_INFINITY;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, session) => {
      for (let tokens = 1; next < limit && performance.now() < until; tokens++) {
        next++;
        const t0 = performance.now();
        await store.put(unsigned(session, tokens));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSec: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * Each round measures every store empty and then full, back to back, so the machine's mood falls on
 * both alike; the ratio is the median of the rounds' ratios (range in brackets), the other columns
 * the median of the rounds. On a shared machine a single pass ran the empty rows minutes before
 * the full ones, and even the in-memory ceiling read 0.43x and 1.22x in two passes.
 */
export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "silk-bench-receipts-"));
  const full = filler(ON_FILE);
  type Result = Awaited<ReturnType<typeof load>> & { open: number; file?: string };
  const results = new Map<string, Result[]>();
  const keep = (store: string, onFile: number, r: Result) => {
    const key = `${store}|${onFile}`;
    results.set(key, [...(results.get(key) ?? []), r]);
  };

  for (let round = 0; round < ROUNDS; round++)
    for (const onFile of [0, ON_FILE]) {
      const records = full.slice(0, onFile);
      keep("memory (ceiling)", onFile, {
        ...(await load(new MemoryReceiptStore(Date.now, records), { receipts: LOG_RECEIPTS })),
        open: 0,
      });

      const jsonPath = join(dir, `receipts-${round}-${onFile}.json`);
      const json = new JsonFileReceiptStore(jsonPath, records);
      keep("JSON file (before)", onFile, {
        ...(await load(json, { seconds: JSON_SECONDS })),
        open: 0,
        file: jsonPath,
      });

      const logPath = join(dir, `receipts-${round}-${onFile}.log`);
      const seed = ReceiptLogStore.open(logPath, { warn: () => {} });
      for (let i = 0; i < records.length; i += 1000)
        await Promise.all(records.slice(i, i + 1000).map((r) => seed.put(latestReceipt(r))));
      await seed.close();
      const t0 = performance.now();
      const log = ReceiptLogStore.open(logPath, { warn: () => {} });
      const open = performance.now() - t0;
      keep("fsynced log (now)", onFile, {
        ...(await load(log, { receipts: LOG_RECEIPTS })),
        open,
        file: logPath,
      });
      await log.close();
    }

  const rows: Record<string, string | number>[] = [];
  for (const store of ["fsynced log (now)", "JSON file (before)", "memory (ceiling)"])
    for (const onFile of [0, ON_FILE]) {
      const rs = results.get(`${store}|${onFile}`) ?? [];
      const empty = results.get(`${store}|0`) ?? [];
      const ratios = rs.map((r, i) => r.perSec / (empty[i]?.perSec ?? r.perSec));
      const last = rs.at(-1);
      rows.push({
        store,
        "streams on file": onFile,
        "receipts/s": fmt(median(rs.map((r) => r.perSec)), 0),
        "vs empty":
          onFile === 0
            ? "1.00"
            : `${fmt(median(ratios))} (${fmt(Math.min(...ratios))}-${fmt(Math.max(...ratios))})`,
        "p50 ms": fmt(median(rs.map((r) => r.p50))),
        "p99 ms": fmt(median(rs.map((r) => r.p99))),
        "open ms": fmt(median(rs.map((r) => r.open)), 0),
        "file MB": last?.file ? fmt(statSync(last.file).size / 1e6) : "-",
      });
    }
  printTable(
    `Receipt stores: ${SESSIONS} sessions putting receipts, empty vs ${ON_FILE} streams on file, ${ROUNDS} rounds`,
    rows,
  );
  rmSync(dir, { recursive: true, force: true });
}
