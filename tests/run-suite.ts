/**
 * `npm test`'s runner: `vitest run` with the arguments given, and one second chance for a file
 * whose vitest worker died natively. @roamhq/wrtc (WebRTC for Node) segfaults now and then in
 * its own C++ (peer/wrtc-guard.ts keeps away the crash caught here; upstream lists others on
 * close, WonderInventions/node-webrtc#35, node-webrtc#576, node-webrtc#435). One no JavaScript can
 * keep away, caught in a core dump here: `RTCDataChannel::Send` checks its native channel, copies
 * the bytes, then reads the channel again, while WebRTC's own thread, seeing the far side close,
 * sets it to null (`CleanupInternals`); a send racing a remote close reads address 0. It killed
 * tests/signaling/restart.test.ts's worker in 3 of 3 runs beside six other peer files at load ~10
 * (one dumped core: this crash), never when run alone. Such a death ends the file without a
 * failing test and vitest says only
 * "Worker exited unexpectedly". When that is the run's only fault (no test or file failed, and
 * every unhandled error is a worker's death), the files that never ended are named and run once
 * more, and their result is the run's. Anything else, or a second death, fails as it is.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunReport } from "./support/unfinished-files-reporter";

const root = fileURLToPath(new URL("..", import.meta.url));
const vitestBin = join(root, "node_modules", "vitest", "vitest.mjs");

function vitest(args: string[], report: string): number {
  const run = spawnSync(process.execPath, [vitestBin, "run", ...args], {
    stdio: "inherit",
    env: { ...process.env, SILK_RUN_REPORT: report },
  });
  return run.status ?? 1;
}

function readReport(file: string): RunReport | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as RunReport;
}

/** The files to run again, when the run's only fault was workers dying; else none. */
export function secondChance(report: RunReport | undefined): string[] {
  if (!report || report.unfinished.length === 0) return [];
  if (report.failedTests > 0 || report.failedFiles > 0) return [];
  if (!report.errors.every((e) => e.includes("Worker exited unexpectedly"))) return [];
  return report.unfinished;
}

function main(): number {
  const dir = mkdtempSync(join(tmpdir(), "silk-run-"));
  try {
    const args = process.argv.slice(2);
    const first = vitest(args, join(dir, "first.json"));
    if (first === 0) return 0;
    const again = secondChance(readReport(join(dir, "first.json")));
    if (again.length === 0) return first;
    // Settings given as --name=value (a --config, a --root) hold for the second run too.
    const flags = args.filter((a) => a.startsWith("--") && a.includes("="));
    process.stderr.write(
      `\n[run-suite] a vitest worker died natively (no test failed) while running:\n${again
        .map((f) => `  ${f}\n`)
        .join(
          "",
        )}[run-suite] running ${again.length === 1 ? "it" : "them"} once more; that result is the run's.\n\n`,
    );
    return vitest([...flags, ...again], join(dir, "second.json"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();
