/**
 * The record of which Registry a testnet or mainnet deployment uses:
 * `contracts/deployments/<network>.json`, written by `contracts/deploy.ts` and checked in by the
 * operator. `npm start` serves its Registry to the pages only after checking it against the code
 * compiled from source here: the same network and global id, the same code hashes (registry,
 * provider entry, escrow), and the registry address that code deploys to. A record left from other
 * code (a Registry deployed before a contract change, whose key proofs or entries this code does
 * not match) is refused naming what differs, rather than served.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Address } from "@ton/core";
import * as v from "valibot";
import { NETWORK_ID } from "../protocol/receipt";
import { CONTRACTS_DIR, type CompiledContract, compiled } from "./compile";
import { Registry } from "./wrappers/registry";

export type DeployedNetwork = "testnet" | "mainnet";

export const DEPLOYMENTS_DIR = join(CONTRACTS_DIR, "deployments");

const HASH = v.pipe(v.string(), v.regex(/^[0-9A-Fa-f]{64}$/));
const RecordSchema = v.object({
  network: v.picklist(["testnet", "mainnet"]),
  globalId: v.number(),
  registry: v.string(),
  codeHashes: v.object({ registry: HASH, providerEntry: HASH, escrow: HASH }),
  tolkVersion: v.string(),
});
export type DeploymentRecord = v.InferOutput<typeof RecordSchema>;

export class DeploymentRecordError extends Error {
  override readonly name = "DeploymentRecordError";
}

async function compiledCode(): Promise<{
  registry: CompiledContract;
  entry: CompiledContract;
  escrow: CompiledContract;
}> {
  const [registry, entry, escrow] = await Promise.all([
    compiled("registry"),
    compiled("providerEntry"),
    compiled("escrow"),
  ]);
  return { registry, entry, escrow };
}

/** The record `contracts/deploy.ts` writes for the code compiled here. */
export async function deploymentRecord(network: DeployedNetwork): Promise<DeploymentRecord> {
  const { registry, entry, escrow } = await compiledCode();
  const address = await compiledRegistryAddress();
  return {
    network,
    globalId: NETWORK_ID[network],
    registry: address.toString({ testOnly: network === "testnet" }),
    codeHashes: {
      registry: registry.codeHashHex,
      providerEntry: entry.codeHashHex,
      escrow: escrow.codeHashHex,
    },
    tolkVersion: registry.tolkVersion,
  };
}

/**
 * The deployment recorded for `network`, checked against the code compiled here; undefined when
 * none is recorded (no Registry deployed yet). Throws `DeploymentRecordError` naming the file and
 * what differs.
 */
export async function readDeployment(
  network: DeployedNetwork,
  dir: string = DEPLOYMENTS_DIR,
): Promise<DeploymentRecord | undefined> {
  const file = join(dir, `${network}.json`);
  if (!existsSync(file)) return undefined;
  const refuse = (what: string) =>
    new DeploymentRecordError(
      `${file}: ${what}; deploy again (contracts/deploy.ts) or check out the code it was deployed from`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new DeploymentRecordError(`${file} is not JSON`, { cause });
  }
  const parsed = v.safeParse(RecordSchema, raw);
  if (!parsed.success)
    throw new DeploymentRecordError(
      `${file} is not a deployment record: ${parsed.issues.map((i) => `${v.getDotPath(i) ?? ""} ${i.message}`).join("; ")}`,
    );
  const record = parsed.output;
  if (record.network !== network) throw refuse(`records ${record.network}, not ${network}`);
  if (record.globalId !== NETWORK_ID[network])
    throw refuse(`global id ${record.globalId} is not ${network}'s (${NETWORK_ID[network]})`);
  const here = await deploymentRecord(network);
  for (const name of ["registry", "providerEntry", "escrow"] as const) {
    if (record.codeHashes[name].toUpperCase() !== here.codeHashes[name].toUpperCase())
      throw refuse(
        `its ${name} code hash ${record.codeHashes[name]} is not the code compiled here (${here.codeHashes[name]})`,
      );
  }
  let address: Address;
  try {
    address = Address.parse(record.registry);
  } catch (cause) {
    throw new DeploymentRecordError(`${file}: registry ${record.registry} is not an address`, { cause });
  }
  if (!address.equals(Address.parse(here.registry)))
    throw refuse(
      `registry ${record.registry} is not where the code compiled here deploys (${here.registry})`,
    );
  return record;
}

/** The address of the Registry this code deploys, on any network (code and data fix it). */
export async function compiledRegistryAddress(): Promise<Address> {
  const { registry, entry } = await compiledCode();
  return Registry.createFromConfig({ entryCode: entry.code }, registry.code).address;
}
