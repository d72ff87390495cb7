/**
 * What `npm start` tells the pages about the chain (`GET /api/config`, `protocol/schemas/page-config.ts`):
 * on the devnet, the deployed Registry, the code and the faucet, all under the mount `/ton` on the
 * pages' own origin; on testnet or mainnet, the endpoint given, the code compiled from source and
 * the Registry recorded by `contracts/deploy.ts` (none until it ran), checked against that code.
 */
import { checkPageConfig, NETWORK_ID, type PageConfig } from "../protocol";
import { compiled } from "./compile";
import { type DeployedNetwork, readDeployment } from "./deployment-record";
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

/**
 * The page config for testnet or mainnet: the Registry from the deployment record (`dir`, by
 * default `contracts/deployments`), refused (`DeploymentRecordError`) unless it matches the code
 * compiled here (`deployment-record.ts`).
 */
export async function networkPageConfig(
  network: DeployedNetwork,
  endpoint: string,
  closeDelay: number,
  dir?: string,
): Promise<PageConfig> {
  const [escrow, entry, deployed] = await Promise.all([
    compiled("escrow"),
    compiled("providerEntry"),
    readDeployment(network, dir),
  ]);
  return checkPageConfig({
    v: 1,
    network,
    globalId: NETWORK_ID[network],
    tonEndpoint: endpoint,
    ...(deployed && { registry: deployed.registry }),
    escrowCode: escrow.code.toBoc().toString("base64"),
    entryCode: entry.code.toBoc().toString("base64"),
    closeDelay,
  });
}
