/**
 * What `npm start` tells the pages about the chain (`GET /api/config`, `protocol/schemas/page-config.ts`):
 * on the devnet, the deployed Registry, the code and the faucet, all under the mount `/ton` on the
 * pages' own origin; on testnet or mainnet, the endpoint given, the code compiled from source and
 * the Registry recorded by `contracts/deploy.ts` (none until it ran).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkPageConfig, NETWORK_ID, type PageConfig } from "../protocol";
import { CONTRACTS_DIR, compiled } from "./compile";
import type { DevnetChain } from "./devnet/chain";

/** Where `npm start` mounts the devnet's API on the pages' origin. */
export const DEVNET_MOUNT = "/ton";

export function devnetPageConfig(
  chain: DevnetChain,
  closeDelay: number,
  wallet?: PageConfig["wallet"],
): PageConfig {
  return checkPageConfig({
    v: 1,
    network: "devnet",
    ...(wallet && { wallet }),
    globalId: NETWORK_ID.devnet,
    tonEndpoint: `${DEVNET_MOUNT}/jsonRPC`,
    faucetUrl: `${DEVNET_MOUNT}/faucet`,
    registry: chain.registry.toString(),
    escrowCode: chain.escrowCode.toBoc().toString("base64"),
    entryCode: chain.providerEntryCode.toBoc().toString("base64"),
    closeDelay,
  });
}

export async function networkPageConfig(
  network: "testnet" | "mainnet",
  endpoint: string,
  closeDelay: number,
): Promise<PageConfig> {
  const [escrow, entry] = await Promise.all([compiled("escrow"), compiled("providerEntry")]);
  const file = join(CONTRACTS_DIR, "deployments", `${network}.json`);
  const registry = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as { registry?: string }).registry
    : undefined;
  return checkPageConfig({
    v: 1,
    network,
    globalId: NETWORK_ID[network],
    tonEndpoint: endpoint,
    ...(registry && { registry }),
    escrowCode: escrow.code.toBoc().toString("base64"),
    entryCode: entry.code.toBoc().toString("base64"),
    closeDelay,
  });
}
