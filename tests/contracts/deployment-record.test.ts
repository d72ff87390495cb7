import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type DeploymentRecord,
  DeploymentRecordError,
  deploymentRecord,
} from "../../contracts/deployment-record";
import { networkPageConfig } from "../../contracts/page-config";

/**
 * An operator records which Registry a testnet or mainnet deployment uses in
 * contracts/deployments/<network>.json (written by contracts/deploy.ts). What `npm start` serves
 * the pages is that Registry only while the record matches the code compiled from source: a record
 * left from other code (say, a Registry deployed before its key proofs named the network) would
 * send every provider's registration to a contract that refuses it, or requesters to entries of
 * other code.
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "silk-deployments-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (r: DeploymentRecord, network = r.network) =>
  writeFileSync(join(dir, `${network}.json`), `${JSON.stringify(r, null, 2)}\n`);
const served = (network: "testnet" | "mainnet") =>
  networkPageConfig(network, "https://toncenter.example/api/v2/jsonRPC", 86_400, dir);
const flip = (hex: string) => (hex[0] === "0" ? "1" : "0") + hex.slice(1);

describe("the deployment record", () => {
  it("as deploy.ts writes it for this code: its Registry is served to the pages; none recorded, none served", async () => {
    expect((await served("testnet")).registry).toBeUndefined();
    const made = await deploymentRecord("testnet");
    record(made);
    expect((await served("testnet")).registry).toBe(made.registry);
    expect(made).toMatchObject({ network: "testnet", globalId: -3 });
  });

  it("a code hash of other code (registry, entry or escrow) is refused, naming it", async () => {
    const made = await deploymentRecord("mainnet");
    for (const name of ["registry", "providerEntry", "escrow"] as const) {
      record({ ...made, codeHashes: { ...made.codeHashes, [name]: flip(made.codeHashes[name]) } });
      const err = await served("mainnet").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeploymentRecordError);
      expect((err as Error).message).toContain(`its ${name} code hash`);
    }
  });

  it("a registry address this code does not deploy to, or another network's record, is refused", async () => {
    const made = await deploymentRecord("mainnet");
    record({ ...made, registry: `0:${"ab".repeat(32)}` });
    await expect(served("mainnet")).rejects.toThrow(/is not where the code compiled here deploys/);
    record({ ...(await deploymentRecord("testnet")) }, "mainnet");
    await expect(served("mainnet")).rejects.toThrow(/records testnet, not mainnet/);
    record({ ...made, globalId: -3 });
    await expect(served("mainnet")).rejects.toThrow(DeploymentRecordError);
    writeFileSync(join(dir, "mainnet.json"), "{ not json");
    await expect(served("mainnet")).rejects.toThrow(DeploymentRecordError);
  });
});
