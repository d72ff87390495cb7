import * as v from "valibot";
import { readStateFile, writeStateFile } from "../../peer/state-file";
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
  return readStateFile(path, GatewayState, "run `npm run gateway -- init` again");
}

export function writeGatewayState(path: string, state: GatewayState): void {
  writeStateFile(path, state);
}
