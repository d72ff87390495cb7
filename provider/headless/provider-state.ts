import * as v from "valibot";
import { readStateFile, writeStateFile } from "../../peer/state-file";
import { TonAddressText } from "../../protocol";

/**
 * What `npm run provider -- init` learned and the headless provider then reads, so it runs
 * without `--payout`, `--owner`, `--registry` and `--ton-endpoint`: the network, where its chain
 * is, the Registry, the wallet that owns the entry and the payout the entry publishes.
 */
const ProviderState = v.object({
  network: v.picklist(["devnet", "testnet", "mainnet"]),
  signalingUrl: v.pipe(v.string(), v.maxLength(2048)),
  tonEndpoint: v.pipe(v.string(), v.maxLength(2048)),
  /** The endpoint was the user's (`init --ton-endpoint`), not the server's word or a public one. */
  tonEndpointGiven: v.optional(v.literal(true)),
  registry: TonAddressText,
  owner: TonAddressText,
  payout: TonAddressText,
});
export type ProviderState = v.InferOutput<typeof ProviderState>;

export function readProviderState(path: string): ProviderState | undefined {
  return readStateFile(path, ProviderState, "run `npm run provider -- init` again");
}

export function writeProviderState(path: string, state: ProviderState): void {
  writeStateFile(path, state);
}
