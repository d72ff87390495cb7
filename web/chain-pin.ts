import type { NetworkName } from "../protocol";
import type { ChainConfig } from "./chain-config";

/**
 * What a page holds a returning user to: the network and the TON endpoint it used with a server
 * the first time (trust on first use, as `gateway init` pins a server key without `--server-key`).
 * The CLI tools take both from their user's flags (`chosenChain`, `web/chosen-chain.ts`); a page
 * has no flags, so its user's choice is the chain they started on, shown on the page. A server (or
 * a man in the middle of `/api/config`) that later names another network or endpoint would move
 * a returning user's wallet and escrow to a chain they did not choose, or read balances, escrow
 * keys, Registry entries and the chain's clock through an endpoint of its own: refused
 * (`ChainChangedError`) until the user accepts the change on the page.
 */
export interface ChainPin {
  readonly network: NetworkName;
  readonly endpoint: string;
}

/** Where a page keeps its pin: one value per server (a `KvEntry` of the page's IndexedDB). */
export interface ChainPinStore {
  get(): Promise<ChainPin | undefined>;
  set(pin: ChainPin): Promise<void>;
}

/** The IndexedDB key of the pin kept for the server at `serverUrl` (one per origin). */
export function chainPinKey(serverUrl: string): string {
  return `chain.pin:${new URL(serverUrl).origin}`;
}

export class ChainChangedError extends Error {
  override readonly name = "ChainChangedError";
  constructor(
    /** What this browser used with the server before. */
    readonly pinned: ChainPin,
    /** What the server names now. */
    readonly named: ChainPin,
    server: string,
  ) {
    super(
      `${server} now names ${named.network} through ${named.endpoint}, not the ${pinned.network} through ${pinned.endpoint} this browser has used with it: nothing is read or paid on a chain you did not choose`,
    );
  }
}

function pinOf(chain: ChainConfig): ChainPin {
  return { network: chain.network, endpoint: chain.endpoint };
}

/**
 * The server's chain held to the pin: pinned on first use, refused (`ChainChangedError`) when the
 * network or the endpoint differs from it.
 */
export async function pinnedChain(
  chain: ChainConfig,
  server: string,
  pin: ChainPinStore,
): Promise<ChainConfig> {
  const pinned = await pin.get();
  const named = pinOf(chain);
  if (!pinned) await pin.set(named);
  else if (pinned.network !== named.network || pinned.endpoint !== named.endpoint)
    throw new ChainChangedError(pinned, named, server);
  return chain;
}
