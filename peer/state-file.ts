import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as v from "valibot";

/**
 * What a command line's `init` learned and its server then reads (`.silk/gateway.json`,
 * `.silk/provider.json`): JSON beside the key, written whole (a rename) with owner-only
 * permissions, and checked against its schema when read back.
 */
export function readStateFile<S extends v.GenericSchema>(
  path: string,
  schema: S,
  fix: string,
): v.InferOutput<S> | undefined {
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error(`${path} is damaged; ${fix}`);
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) throw new Error(`${path} is damaged; ${fix}`);
  return parsed.output;
}

export function writeStateFile(path: string, state: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
