import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../signaling/config";
import { runProgram } from "../support/run-program";

/**
 * What a newcomer types first: `--help` of every program the README names prints its usage and
 * exits 0 (not "Unknown option" and 2), and a misspelt flag of the server is refused by name
 * (it used to be read as a setting nobody reads, and silently did nothing).
 */
// A port nobody listens on, should a program start after all: it must not.
const NOWHERE = { PORT: "1", DEVNET_PORT: "1", SILK_GATEWAY_PORT: "1" };
const run = (file: string, args: string[]) => runProgram(file, args, NOWHERE);

const PROGRAMS: [string, string, string][] = [
  ["npm start", "silk.ts", "npm start --"],
  ["npm run signaling", "signaling/main.ts", "npm run signaling --"],
  ["npm run provider", "provider/headless/main.ts", "npm run provider -- --backend URL"],
  ["npm run provider -- init", "provider/headless/main.ts init", "npm run provider -- init --model NAME"],
  ["npm run gateway", "client/gateway/main.ts", "npm run gateway -- --max-price"],
  ["npm run gateway -- init", "client/gateway/main.ts init", "npm run gateway -- init"],
  ["npm run auditor", "client/auditor/main.ts", "npm run auditor -- --model MODEL"],
  ["npm run devnet", "contracts/devnet/main.ts", "Usage: npm run devnet"],
];

describe("--help", () => {
  for (const [name, command, usage] of PROGRAMS)
    it(`${name} -- --help prints its usage and exits 0`, async () => {
      const [file, ...sub] = command.split(" ");
      const { code, stdout } = await run(file!, [...sub, "--help"]);
      expect(stdout).toContain(usage);
      expect(code).toBe(0);
    });
});

describe("a misspelt flag", () => {
  it("is refused by name by the signaling server and npm start, with exit status 2", async () => {
    expect(() => loadConfig({}, ["--prot", "9000"])).toThrow(ConfigError);
    expect(() => loadConfig({}, ["--prot=9000"])).toThrow(/unknown flag "--prot"/);
    // Every documented setting is still a flag.
    expect(
      loadConfig({}, ["--port", "9000", "--redis-prefix=x:", "--heartbeat-timeout-ms", "5"]),
    ).toMatchObject({
      port: 9000,
      redisPrefix: "x:",
      heartbeatTimeoutMs: 5,
    });
    for (const file of ["signaling/main.ts", "silk.ts"]) {
      const { code, stderr } = await run(file, ["--prot", "9000"]);
      expect(stderr).toContain('unknown flag "--prot"');
      expect(code).toBe(2);
    }
  });

  it("a port that is none is refused by name, not met with a stack trace", async () => {
    expect(() => loadConfig({ PORT: "99999" })).toThrow("PORT must be a whole number from 0 to 65535");
    expect(() => loadConfig({}, ["--port", "1.5"])).toThrow(ConfigError);
    for (const [file, env, said] of [
      ["signaling/main.ts", { PORT: "99999" }, "silk-signaling: PORT must be"],
      ["silk.ts", { PORT: "0", DEVNET_PORT: "eighty" }, "silk: DEVNET_PORT must be"],
      ["contracts/devnet/main.ts", { DEVNET_PORT: "70000" }, "devnet: DEVNET_PORT must be"],
    ] as const) {
      const { code, stderr } = await runProgram(file, [], env);
      expect(stderr).toContain(said);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(code).toBe(2);
    }
  });

  it("a heap growth V8 cannot do is refused by name; the node's default lets it double", async () => {
    expect(loadConfig({}).heapGrowthPercent).toBe(100);
    expect(loadConfig({ HEAP_GROWTH_PERCENT: "0" }).heapGrowthPercent).toBe(0);
    expect(loadConfig({}, ["--heap-growth-percent", "300"]).heapGrowthPercent).toBe(300);
    for (const bad of ["301", "1.5", "-1"])
      expect(() => loadConfig({ HEAP_GROWTH_PERCENT: bad })).toThrow(ConfigError);
    const { code, stderr } = await runProgram("signaling/main.ts", [], {
      PORT: "0",
      HEAP_GROWTH_PERCENT: "500",
    });
    expect(stderr).toContain("silk-signaling: HEAP_GROWTH_PERCENT must be a whole number from 0 to 300");
    expect(code).toBe(2);
  });

  it("is refused by name by the init commands, with their usage and exit status 2", async () => {
    for (const [file, usage] of [
      ["provider/headless/main.ts", "Usage: npm run provider -- init"],
      ["client/gateway/main.ts", "Usage: npm run gateway -- init"],
    ] as const) {
      const { code, stderr } = await runProgram(file, ["init", "--modle", "x"]);
      expect(stderr).toContain("Unknown option '--modle'");
      expect(stderr).not.toContain("To specify a positional argument");
      expect(stderr).toContain(usage);
      expect(code).toBe(2);
    }
  });

  it("is refused by npm run devnet, which takes none", async () => {
    const { code, stderr } = await run("contracts/devnet/main.ts", ["--port", "9000"]);
    expect(stderr).toContain("takes no arguments (--port)");
    expect(code).toBe(2);
  });
});
