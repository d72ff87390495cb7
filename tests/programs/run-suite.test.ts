import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runProgram } from "../support/run-program";

/**
 * `npm test`'s runner (tests/run-suite.ts) on fixture files whose worker dies by SIGSEGV, as
 * @roamhq/wrtc's sometimes does: the file is named and run once more only when nothing else
 * went wrong, and a second death or a failing test fails the run.
 */
const dir = mkdtempSync(join(tmpdir(), "silk-run-suite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = "--config=tests/fixtures/run-suite/vitest.config.ts";
const run = (mark: string, ...files: string[]) =>
  runProgram("tests/run-suite.ts", [config, ...files], { SILK_FIXTURE_MARK: join(dir, mark), CI: "true" });

describe("the suite runner", () => {
  it("names a file whose worker died, runs it again, and passes when it then passes", async () => {
    const r = await run("once", "dies-once", "passes");
    const out = r.stdout + r.stderr;
    expect(out).toContain("[unfinished] dies-once.fixture.ts: started, never ended");
    expect(out).toContain("[run-suite] a vitest worker died natively");
    expect(r.code).toBe(0);
  });

  it("fails when the file's worker dies again", async () => {
    const r = await run("always", "dies-always");
    expect((r.stdout + r.stderr).match(/\[unfinished\] dies-always\.fixture\.ts/g)).toHaveLength(2);
    expect(r.code).not.toBe(0);
  });

  it("does not run anything again when a test failed too", async () => {
    const r = await run("failed", "dies-once", "fails");
    const out = r.stdout + r.stderr;
    expect(out).toContain("[unfinished] dies-once.fixture.ts");
    expect(out).not.toContain("[run-suite]");
    expect(r.code).not.toBe(0);
  });
});
