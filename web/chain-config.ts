import { checkNamedCode } from "../contracts/named-code";
import { checkPageConfig, type PageConfig } from "../protocol";

/**
 * The chain the pages use, learned from the server (`GET /api/config`) rather than baked into the
 * build, so one build serves the devnet, testnet or mainnet. Relative endpoints (the devnet mounted
 * on the pages' origin) are made absolute against the server's URL, which also serves the widget
 * embedded on another site. The Escrow and entry code it names must be the code compiled here
 * (`checkNamedCode`, a `ContractCodeError` otherwise): they fix where a deposit or a stake goes.
 */
export interface ChainConfig extends PageConfig {
  /** Absolute TonClient endpoint. */
  readonly endpoint: string;
  /** Absolute faucet URL (devnet only). */
  readonly faucet: string | undefined;
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
