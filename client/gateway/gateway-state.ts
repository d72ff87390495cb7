import * as v from "valibot";
import { readStateFile, writeStateFile } from "../../peer/state-file";
import { TonAddressText } from "../../protocol";

/**
 * What `npm run gateway -- init` learned and the gateway then reads: which escrow its key draws
 * on, the epoch the escrow gave the key, the network, and the chain (the TonClient endpoint init
 * chose, the Registry the server named), so the gateway runs without `--escrow`, `--key-epoch` and
 * `--ton-endpoint`, and checks providers on that chain, whatever the server's port. A
 * JSON file beside the key (`.silk/gateway.json`); a file from before the chain was stored still reads.
 */
const GatewayState = v.object({
  escrow: TonAddressText,
  keyEpoch: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff)),
  network: v.picklist(["devnet", "testnet", "mainnet"]),
  signalingUrl: v.pipe(v.string(), v.maxLength(2048)),
  tonEndpoint: v.optional(v.pipe(v.string(), v.maxLength(2048))),
  /** The endpoint was the user's (`init --ton-endpoint`), not the server's word or a public one. */
  tonEndpointGiven: v.optional(v.literal(true)),
  registry: v.optional(TonAddressText),
  /** The signaling server's key, as `init` read it (trust on first use): grants must be signed by it. */
  serverKey: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))),
});
export type GatewayState = v.InferOutput<typeof GatewayState>;

export function readGatewayState(path: string): GatewayState | undefined {
  return readStateFile(path, GatewayState, "run `npm run gateway -- init` again");
}

export function writeGatewayState(path: string, state: GatewayState): void {
  writeStateFile(path, state);
}
