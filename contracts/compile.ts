/**
 * Compiles Silk's Tolk contracts from source with `@ton/tolk-js` (Node only: it reads the .tolk
 * files from disk). Tests, the devnet, the deploy script and the bench all go through here, so
 * what runs is always what the source says.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cell } from "@ton/core";
import { runTolkCompiler } from "@ton/tolk-js";

export const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));

/** Entry files, relative to `contracts/`. */
export const CONTRACT_SOURCES = {
  escrow: "escrow/escrow.tolk",
  registry: "registry/registry.tolk",
  providerEntry: "registry/provider-entry.tolk",
} as const;
export type ContractName = keyof typeof CONTRACT_SOURCES;

export interface CompiledContract {
  readonly name: ContractName;
  readonly code: Cell;
  readonly codeHashHex: string;
  readonly tolkVersion: string;
}

export class ContractCompileError extends Error {
  override readonly name = "ContractCompileError";
}

export async function compileContract(name: ContractName): Promise<CompiledContract> {
  const result = await runTolkCompiler({
    entrypointFileName: CONTRACT_SOURCES[name],
    fsReadCallback: (path) => readFileSync(join(CONTRACTS_DIR, path), "utf8"),
  });
  if (result.status === "error") throw new ContractCompileError(`${name}: ${result.message}`);
  const code = Cell.fromBase64(result.codeBoc64);
  return { name, code, codeHashHex: result.codeHashHex, tolkVersion: result.tolkVersion };
}

const cache = new Map<ContractName, Promise<CompiledContract>>();

/** Compiles each contract at most once per process. */
export function compiled(name: ContractName): Promise<CompiledContract> {
  let p = cache.get(name);
  if (!p) {
    p = compileContract(name);
    cache.set(name, p);
  }
  return p;
}
