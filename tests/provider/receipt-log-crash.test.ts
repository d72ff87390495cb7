import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { streamId } from "../../protocol";
import { parseLog } from "../../provider/headless/receipt-log-format";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import { latestReceipt } from "../../provider/receipt-store";
import { generateKeyPair, receiptOn } from "./receipt-streams";

const here = dirname(fileURLToPath(import.meta.url));
const STREAMS = 24;
const KILLS = 20;
const key = generateKeyPair();
const idOf = (s: number) => streamId(receiptOn(s, 1, key).receipt);

/** Starts the writer and kills it with SIGKILL after `after` acks; resolves with what it acked. */
function writeThenKill(path: string, after: number): Promise<{ acked: Map<number, number>; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", join(here, "receipt-writer-child.ts"), path, String(STREAMS), "100"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const acked = new Map<number, number>();
    let count = 0;
    let buffered = "";
    let stderr = "";
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the writer acknowledged only ${count} receipts in 60 s: ${stderr}`));
    }, 60_000);
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const [word, stream, tokens] = line.split(" ");
        if (word !== "ack") continue;
        acked.set(Number(stream), Math.max(acked.get(Number(stream)) ?? 0, Number(tokens)));
        if (++count === after) child.kill("SIGKILL");
      }
    });
    child.on("exit", (_code, signal) => {
      clearTimeout(deadline);
      if (signal !== "SIGKILL") reject(new Error(`the writer exited by itself: ${stderr}`));
      // Acks still in the pipe after the kill were printed after their sync: they count too.
      else setImmediate(() => resolve({ acked, stderr }));
    });
  });
}

describe("the receipt log under kill -9", () => {
  it(`loses no acknowledged receipt over ${KILLS} kills of a process writing under load`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), "silk-receipt-crash-")), "receipts.log");
    const best = new Map<number, number>();
    let recoveries = 0;
    for (let run = 0; run < KILLS; run++) {
      // Kill at a different moment each time: early, mid-batch, during a compaction.
      const { acked, stderr } = await writeThenKill(path, 10 + Math.floor(Math.random() * 150));
      if (/unfinished record|damaged/.test(stderr)) recoveries++;
      for (const [s, t] of acked) best.set(s, Math.max(best.get(s) ?? 0, t));
      // Read as the file lies after the kill, before anything repairs it.
      const onDisk = new Map(parseLog(readFileSync(path)).records.map((r) => [r.id, r]));
      for (const [s, t] of best) {
        const record = onDisk.get(idOf(s));
        expect(record, `stream ${s} after kill ${run + 1}`).toBeDefined();
        expect(latestReceipt(record!).receipt.tokens).toBeGreaterThanOrEqual(BigInt(t));
      }
    }
    expect(best.size).toBe(STREAMS);
    const warnings: string[] = [];
    const store = ReceiptLogStore.open(path, { warn: (m) => warnings.push(m) });
    expect(warnings.filter((w) => /damaged/.test(w))).toEqual([]); // kills tear at most the last line
    for (const [s, t] of best) {
      const record = await store.get(idOf(s));
      expect(latestReceipt(record!).receipt.tokens).toBeGreaterThanOrEqual(BigInt(t));
    }
    await store.close();
    console.log(`${KILLS} kills, ${recoveries} started on a log cut mid-record`);
  }, 600_000);
});
