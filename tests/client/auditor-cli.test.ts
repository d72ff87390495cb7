import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAuditorOptions } from "../../client/auditor/options";
import { flatPrice } from "../../protocol";
import { LogprobEngine } from "../doubles/logprob-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ESCROW, relayProvider, stopAll } from "../support/silk-parties";

/** `npm run auditor`: anyone audits the providers of a model from the command line, with its own escrow. */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

function runCli(
  args: string[],
): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "client/auditor/main.ts", ...args], {
    env: { ...process.env, SILK_KEY_FILE: join(mkdtempSync(join(tmpdir(), "silk-auditor-")), "k") },
  });
  let out = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.on("exit", (code) =>
      resolve({
        code,
        stderr,
        lines: out
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    ),
  );
}

describe("npm run auditor", () => {
  it("audits the cheapest provider against another, prints a line per audit, reports, and exits 1 on a failure", async () => {
    const models = (price: bigint) => [
      { model: "test-model", price: flatPrice(price), features: ["logprobs" as const, "scoring" as const] },
    ];
    // Its own payout address: the client keeps one session per payout (one receipt stream each).
    await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 1 } }),
      models: models(20n),
      forceRelay: false,
      wrtc,
      payout: `0:${"44".repeat(32)}`,
    });
    const cheat = await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 2 } }),
      models: models(10n),
      forceRelay: false,
      wrtc,
    });
    const run = await runCli([
      "--signaling",
      url,
      "--model",
      "test-model",
      "--escrow",
      ESCROW,
      "--max-price",
      "100",
      "--audits",
      "2",
      "--max-tokens",
      "16",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(2);
    // No provider serves as a forcing reference here: the line says the method was not stated.
    expect(run.lines[0]).toMatchObject({
      provider: cheat.key,
      result: "fail",
      compared: 16,
      method: "unstated",
      reported: true,
    });
    const models_ = (await (await fetch(`${url}/api/models`)).json()) as {
      audits: { provider: string; failed: number }[];
    };
    expect(models_.audits.find((a) => a.provider === cheat.key)?.failed).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("says what is missing, with its usage, and exits 2", async () => {
    const run = await runCli(["--model", "m"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--escrow is required[\s\S]*Usage: npm run auditor/);
  }, 30_000);

  it("reads its options strictly", () => {
    const base = ["--model", "m", "--escrow", ESCROW, "--max-price", "5"];
    expect(parseAuditorOptions(base, {})).toMatchObject({
      audits: 10,
      maxTokens: 32,
      submit: true,
      model: "m",
    });
    expect(() => parseAuditorOptions([...base, "--max-tokens", "8"], {})).toThrow(/--max-tokens must be/);
    expect(() => parseAuditorOptions(["--model", "m", "--escrow", "nope", "--max-price", "5"], {})).toThrow(
      /not a TON address/,
    );
    expect(() => parseAuditorOptions([...base, "--bogus"], {})).toThrow();
    expect(parseAuditorOptions(["--escrow", ESCROW], { SILK_MODEL: "x", SILK_MAX_PRICE: "7" })).toMatchObject(
      {
        model: "x",
        maxPrice: { completionNanoPerToken: 7n },
      },
    );
  });
});
