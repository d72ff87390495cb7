import { checkNamedCode } from "../contracts/named-code";
import { checkPageConfig, type PageConfig } from "../protocol";

/**
 * The chain the pages use, learned from the server (`GET /api/config`) rather than baked into the
 * build, so one build serves the devnet, testnet or mainnet. Relative endpoints (the devnet mounted
 * on the pages' origin) are made absolute against the server's URL, which also serves the widget
 * embedded on another site. The Escrow and entry code and the Registry it names must be this
 * build's (`checkNamedCode`: `ContractCodeError`, `RegistryCodeError`): they fix where a deposit or
 * a stake goes and whose entries vouch for a provider; and its close delay at most a week (`checkCloseDelay`): the pages and `init` deposit under it.
 */
export interface ChainConfig extends PageConfig {
  /** Absolute TonClient endpoint. */
  readonly endpoint: string;
  /** Absolute faucet URL (devnet only). */
  readonly faucet: string | undefined;
}

/**
 * The longest close delay (seconds between an escrow's close and its withdraw) a deposit is made
 * under: the delay is part of the escrow's address, so a server naming a year would lock the
 * deposit for a year after the owner closes. Providers ask for an hour (testnet, mainnet).
 */
export const MAX_CLOSE_DELAY_S = 7 * 86_400;

export class CloseDelayError extends Error {
  override readonly name = "CloseDelayError";
  constructor(
    /** The close delay the server named, seconds. */
    readonly named: number,
    server: string,
  ) {
    super(
      `${server} names an escrow close delay of ${named} s, not a whole number of seconds from 1 to the ${MAX_CLOSE_DELAY_S} this client deposits under: a deposit would be locked that long after you close`,
    );
  }
}

/**
 * Refuses (`CloseDelayError`) a chain whose escrows would lock a deposit beyond `MAX_CLOSE_DELAY_S`,
 * or whose close delay is no whole number of seconds from 1 (`NaN` included: every comparison with
 * it is false, so a bare `> MAX` let it through).
 */
export function checkCloseDelay(chain: { readonly closeDelay: number }, server: string): void {
  const d = chain.closeDelay;
  if (!(Number.isSafeInteger(d) && d >= 1 && d <= MAX_CLOSE_DELAY_S)) throw new CloseDelayError(d, server);
}

export class ChainConfigError extends Error {
  override readonly name = "ChainConfigError";
}

/** The server's chain, or undefined when it offers none (a signaling server run on its own). */
export async function fetchChainConfig(serverUrl: string): Promise<ChainConfig | undefined> {
  let res: Response;
  try {
    res = await fetch(new URL("/api/config", serverUrl), { cache: "no-store" });
  } catch (cause) {
    throw new ChainConfigError(`cannot reach the Silk server at ${serverUrl} to learn its TON network`, {
      cause,
    });
  }
  if (res.status === 404) return undefined;
  if (!res.ok)
    throw new ChainConfigError(`the Silk server at ${serverUrl} answered ${res.status} for its TON network`);
  const config = checkPageConfig(await res.json());
  checkNamedCode(config, serverUrl);
  checkCloseDelay(config, serverUrl);
  return {
    ...config,
    endpoint: new URL(config.tonEndpoint, serverUrl).toString(),
    faucet: config.faucetUrl ? new URL(config.faucetUrl, serverUrl).toString() : undefined,
  };
}

export class ChainTimeoutError extends Error {
  override readonly name = "ChainTimeoutError";
}

/**
 * Polls the chain until `check` holds: how every transaction's success is judged (a wallet's
 * answer proves nothing). Read errors count as "not yet".
 */
export async function waitForChain(
  check: () => Promise<boolean>,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const end = Date.now() + (opts.timeoutMs ?? 90_000);
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end)
      throw new ChainTimeoutError(`${what}: not seen on chain in time; check your wallet`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1_000));
  }
}
