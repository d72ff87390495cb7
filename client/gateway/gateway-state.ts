import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as v from "valibot";
import { TonAddressText } from "../../protocol";

/**
 * What `npm run gateway -- init` learned and the gateway then reads: which escrow its key draws
 * on, the epoch the escrow gave the key, and the network, so the gateway runs without
 * `--escrow` and `--key-epoch`. A JSON file beside the key (`.silk/gateway.json`).
 */
const GatewayState = v.object({
  escrow: TonAddressText,
  keyEpoch: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff)),
  network: v.picklist(["devnet", "testnet", "mainnet"]),
  signalingUrl: v.pipe(v.string(), v.maxLength(2048)),
});
export type GatewayState = v.InferOutput<typeof GatewayState>;

export function readGatewayState(path: string): GatewayState | undefined {
  if (!existsSync(path)) return undefined;
  const parsed = v.safeParse(GatewayState, JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new Error(`${path} is damaged; run \`npm run gateway -- init\` again`);
  return parsed.output;
}

export function writeGatewayState(path: string, state: GatewayState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** A 32-byte secret kept in a file (mode 600), as the dev wallet's seed store. */
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
