import { writeFileSync } from "node:fs";
import type { SerializedError } from "vitest";
import type { Reporter, TestCase, TestModule } from "vitest/node";

/** What `tests/run-suite.ts` reads after a run: `SILK_RUN_REPORT` names the file. */
export interface RunReport {
  /** Files started and never ended (their worker died), relative to the project. */
  readonly unfinished: string[];
  /** Tests that failed in the files that did end. */
  readonly failedTests: number;
  /** Files that failed outside any test (a failing import, a hook), among those that ended. */
  readonly failedFiles: number;
  /** Each unhandled error's message, then its causes' (": "-joined). */
  readonly errors: string[];
}

/**
 * Names the test files a run started and never finished. A vitest worker that dies natively
 * (a segfault in an addon) leaves only "Worker exited unexpectedly", without the file: this
 * reporter prints which file was running, which test it was in, and how far it got, so a crash
 * in CI says where it happened. Prints nothing when every started file ended.
 */
export default class UnfinishedFilesReporter implements Reporter {
  private readonly running = new Map<string, { started: number; current?: string; done: number }>();

  onTestModuleStart(module: TestModule): void {
    this.running.set(module.moduleId, { started: Date.now(), done: 0 });
  }

  onTestCaseReady(test: TestCase): void {
    const entry = this.running.get(test.module.moduleId);
    if (entry) entry.current = test.fullName;
  }

  onTestCaseResult(test: TestCase): void {
    const entry = this.running.get(test.module.moduleId);
    if (!entry) return;
    entry.done += 1;
    entry.current = undefined;
  }

  onTestModuleEnd(module: TestModule): void {
    this.running.delete(module.moduleId);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    const unfinished: string[] = [];
    for (const [id, entry] of this.running) {
      const module = modules.find((m) => m.moduleId === id);
      const file = module?.relativeModuleId ?? id;
      unfinished.push(file);
      const total = module ? [...module.children.allTests()].length : "?";
      const secs = ((Date.now() - entry.started) / 1000).toFixed(1);
      process.stderr.write(
        `\n[unfinished] ${file}: started, never ended (${entry.done}/${total} tests reported done; ${
          entry.current ? `last reported running: "${entry.current}"` : "none reported running"
        }; ${secs} s before the run ended)\n`,
      );
    }
    const ended = modules.filter((m) => !this.running.has(m.moduleId));
    this.running.clear();
    const out = process.env.SILK_RUN_REPORT;
    if (!out) return;
    const report: RunReport = {
      unfinished,
      failedTests: ended.reduce(
        (n, m) => n + [...m.children.allTests()].filter((t) => t.result().state === "failed").length,
        0,
      ),
      failedFiles: ended.filter((m) => m.state() === "failed").length,
      errors: errors.map(messages),
    };
    writeFileSync(out, JSON.stringify(report));
  }
}

/** An error's message and its causes', read as own properties (Error's are not enumerable). */
function messages(e: unknown): string {
  const out: string[] = [];
  for (let cur = e, depth = 0; cur && typeof cur === "object" && depth < 5; depth++) {
    const { message, cause } = cur as { message?: unknown; cause?: unknown };
    if (typeof message === "string") out.push(message);
    cur = cause;
  }
  return out.join(": ");
}
