import type { NetworkName } from "../protocol";
import { type ChainConfig, fetchChainConfig } from "./chain-config";

/**
 * What a program (`gateway init`, `provider init`) takes from a server's `/api/config` only on its
 * user's word: the network, and on testnet and mainnet the TON endpoint every chain read goes
 * through (balances, escrow keys, Registry entries, the chain's clock). A server naming another
 * network would have the user pay on a chain they did not choose (or move them to its own devnet,
 * whose Registry it writes); an endpoint of its own could report any state it likes: entries for
 * providers it runs, an escrow key that was never added, a clock that expires reserves. (A deposit
 * is made only under a bounded close delay: `checkCloseDelay` in `chain-config.ts`, for every reader.)
 */

/** The public endpoints this build reads testnet and mainnet through unless told another. */
export const PUBLIC_TON_ENDPOINTS: Readonly<Record<Exclude<NetworkName, "devnet">, readonly string[]>> = {
  testnet: ["https://testnet.toncenter.com/api/v2/jsonRPC"],
  mainnet: ["https://toncenter.com/api/v2/jsonRPC"],
};

/** Whether `endpoint` is one of the public endpoints this build knows for `network` (never on the devnet). */
export function isPublicEndpoint(network: NetworkName, endpoint: string): boolean {
  return network !== "devnet" && PUBLIC_TON_ENDPOINTS[network].includes(endpoint);
}

export class StoredEndpointError extends Error {
  override readonly name = "StoredEndpointError";
  constructor(
    /** The endpoint the state file holds. */
    readonly stored: string,
    command: string,
  ) {
    super(
      `the TON endpoint ${command} stored, ${stored}, was the signaling server's word, not yours: give --ton-endpoint, or run \`${command}\` again`,
    );
  }
}

/**
 * Refuses (`StoredEndpointError`) a testnet or mainnet endpoint a state file holds that an `init`
 * from before `chosenChain` took from the server: read only if it was the user's (`given`) or is
 * a public one. `command` is the init to run again.
 */
export function checkStoredEndpoint(
  network: NetworkName,
  stored: { readonly tonEndpoint: string; readonly tonEndpointGiven?: true | undefined },
  command: string,
): void {
  if (network === "devnet" || stored.tonEndpointGiven || isPublicEndpoint(network, stored.tonEndpoint))
    return;
  throw new StoredEndpointError(stored.tonEndpoint, command);
}

/** A `--ton-endpoint` that is no http(s) URL. */
export class TonEndpointUrlError extends Error {
  override readonly name = "TonEndpointUrlError";
  constructor(readonly given: string) {
    super(`--ton-endpoint ${given} is not an http(s) URL`);
  }
}

function isHttpUrl(text: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

export class NetworkMismatchError extends Error {
  override readonly name = "NetworkMismatchError";
  constructor(
    /** The network the server named. */
    readonly named: NetworkName,
    /** The network the user chose (`--network`, the widget's `network`). */
    readonly wanted: NetworkName,
    server: string,
  ) {
    super(
      `${server} names ${named}, not ${wanted}, the network you chose (--network, or the widget's network): nothing is sent on a network you did not choose`,
    );
  }
}

export class TonEndpointError extends Error {
  override readonly name = "TonEndpointError";
  constructor(
    /** The endpoint the server named. */
    readonly named: string,
    network: NetworkName,
    server: string,
  ) {
    super(
      `${server} names the ${network} endpoint ${named}, not a public one this build knows (${PUBLIC_TON_ENDPOINTS[network as Exclude<NetworkName, "devnet">]?.join(", ")}): the chain is not read through the server's word; give your own (--ton-endpoint, or the widget's ton-endpoint)`,
    );
  }
}

/** The chain a user chose: `--network` and `--ton-endpoint`, or a widget's `network` and `ton-endpoint`. */
export interface ChainChoice {
  readonly network: NetworkName;
  readonly tonEndpoint?: string | undefined;
}

/**
 * The server's chain on the user's terms: refused (`NetworkMismatchError`) on another network than
 * `want.network`; read through `want.tonEndpoint` when given, else through the server's endpoint
 * only on the devnet (the server's own chain, test money) or when it is a known public one
 * (`TonEndpointError` otherwise).
 */
export function chosenChain(chain: ChainConfig, server: string, want: ChainChoice): ChainConfig {
  if (chain.network !== want.network) throw new NetworkMismatchError(chain.network, want.network, server);
  if (want.tonEndpoint !== undefined) {
    if (!isHttpUrl(want.tonEndpoint)) throw new TonEndpointUrlError(want.tonEndpoint);
    return { ...chain, endpoint: want.tonEndpoint };
  }
  if (chain.network === "devnet" || isPublicEndpoint(chain.network, chain.endpoint)) return chain;
  throw new TonEndpointError(chain.endpoint, chain.network, server);
}

/**
 * The chain the server at `server` names (`/api/config`), checked as `gateway init` and `provider
 * init` need it before any wallet is asked: its code and Registry this code's
 * (`fetchChainConfig`, `checkNamedCode`), on the user's terms (`chosenChain`).
 */
export async function serverChain(
  server: string,
  want: { readonly network?: NetworkName | undefined; readonly tonEndpoint?: string | undefined },
): Promise<ChainConfig> {
  const named = await fetchChainConfig(server);
  if (!named) throw new Error(`${server} names no TON network (/api/config); is it a Silk server?`);
  return chosenChain(named, server, { network: want.network ?? "devnet", tonEndpoint: want.tonEndpoint });
}
