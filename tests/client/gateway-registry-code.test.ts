import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address } from "@ton/core";
import { afterEach, describe, expect, it } from "vitest";
import { compiledRegistryAddress } from "../../contracts/deployment-record";
import { checkRegistryCode, RegistryCodeError, THIS_CODES_REGISTRY } from "../../contracts/named-code";
import { runProgram } from "../support/run-program";
import { PAYOUT } from "../support/silk-parties";

/**
 * The gateway checks providers against the Registry it is given (`--registry`, what `init`
 * stored, or the deployment record). It reads only a Registry of the code compiled here: the
 * address commits to the code, so one of other code (an old deployment, or a look-alike whose
 * getter names entries it wrote itself) is refused at start, before any provider is read from it.
 */
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the gateway's Registry", () => {
  it("of other code is refused at start, exit 2, naming both addresses", async () => {
    dir = mkdtempSync(join(tmpdir(), "silk-gateway-"));
    const other = `0:${"ab".repeat(32)}`;
    const { code, stderr } = await runProgram(
      "client/gateway/main.ts",
      [
        ...["--escrow", PAYOUT, "--max-price", "9", "--network", "testnet"],
        ...["--ton-endpoint", "http://127.0.0.1:1/jsonRPC", "--registry", other],
        ...["--key-file", join(dir, "gateway.key"), "--signaling", "http://127.0.0.1:1"],
      ],
      { SILK_GATEWAY_PORT: "1" },
    );
    expect(stderr).toContain("is not the Registry the contracts compiled here deploy");
    expect(stderr).toContain((await compiledRegistryAddress()).toString());
    expect(code).toBe(2);
  }, 60_000);

  it("of this code passes, on every network (the same code and data: the same address)", async () => {
    const here = await compiledRegistryAddress();
    expect(() => checkRegistryCode(here, "the Registry")).not.toThrow();
    expect(() => checkRegistryCode(Address.parse(`0:${"ab".repeat(32)}`), "the Registry")).toThrow(
      RegistryCodeError,
    );
  });

  it("the generated address is the one the code compiled from source deploys to (run npm run contracts:build)", async () => {
    expect(THIS_CODES_REGISTRY.equals(await compiledRegistryAddress())).toBe(true);
  });
});
