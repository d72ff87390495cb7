import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { decodeSecretKey, encodeSecretKey, generateKeyPair, type KeyPair } from "../protocol";

/**
 * Loads an Ed25519 key from a file (64 hex characters), or makes one and saves it there with
 * owner-only permissions. Used for a provider's identity key and a gateway's session key.
 */
export function loadOrCreateKey(path: string): { key: KeyPair; created: boolean } {
  if (existsSync(path)) return { key: decodeSecretKey(readFileSync(path, "utf8")), created: false };
  const key = generateKeyPair();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${encodeSecretKey(key.secretKey)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { key, created: true };
}

/** A 32-byte secret kept in a file (mode 600): the dev wallet's seed for a command line's `init`. */
export function fileSeed(path: string) {
  return {
    get: async (): Promise<Uint8Array | undefined> =>
      existsSync(path) ? new Uint8Array(Buffer.from(readFileSync(path, "utf8").trim(), "hex")) : undefined,
    set: async (seed: Uint8Array): Promise<void> => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${Buffer.from(seed).toString("hex")}\n`, { mode: 0o600 });
    },
  };
}
