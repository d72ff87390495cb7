import { TonClient } from "@ton/ton";
import { registryOf } from "../../contracts/named-code";
import { type RegistryReader, tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import type { ChainConfig } from "../../web/chain-config";

/**
 * The pages' Registry reader, through the chain the page was served with. The page's code comes
 * from the same server as `/api/config`, so this trusts that server exactly as far as the page
 * itself; an SDK or gateway user names the Registry independently (client/README.md). The
 * Registry is this code's (`registryOf`), also when the config names none: a server's silence does
 * not turn the provider check off.
 */
export function registryReaderFor(config: ChainConfig, server: string): RegistryReader {
  return tonRegistryReader(new TonClient({ endpoint: config.endpoint }), registryOf(config, server));
}
