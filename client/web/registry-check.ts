import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { type RegistryReader, tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import type { ChainConfig } from "../../web/chain-config";

/**
 * The pages' Registry reader, through the chain the page was served with. The page's code comes
 * from the same server as `/api/config`, so this trusts that server exactly as far as the page
 * itself; an SDK or gateway user names the Registry independently (client/README.md).
 */
export function registryReaderFor(config: ChainConfig): RegistryReader | undefined {
  if (!config.registry) return undefined;
  return tonRegistryReader(new TonClient({ endpoint: config.endpoint }), Address.parse(config.registry));
}
