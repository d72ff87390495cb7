import { beginCell, Dictionary } from "@ton/core";
import type { Blockchain } from "@ton/sandbox";

/**
 * The TON config parameter holding the network's global id (`_ global_id:int32 = ConfigParam 19`):
 * -239 on mainnet, -3 on testnet. The sandbox's bundled config is mainnet's.
 */
export const GLOBAL_ID_PARAM = 19;

/** The global id `blockchain`'s config names (config param 19). */
export function globalIdOf(blockchain: Blockchain): number {
  const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), blockchain.config);
  const p = params.get(GLOBAL_ID_PARAM);
  if (!p) throw new Error("the sandbox's config has no global id (param 19)");
  return p.beginParse().loadInt(32);
}

/**
 * Makes `blockchain` a chain of the network `globalId` (the devnet's -1000, or testnet's -3 in a
 * test): contracts reading config param 19 see it. Everything else in the config is kept.
 */
export function setGlobalId(blockchain: Blockchain, globalId: number): void {
  const params = Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), blockchain.config);
  params.set(GLOBAL_ID_PARAM, beginCell().storeInt(globalId, 32).endCell());
  blockchain.setConfig(beginCell().storeDictDirect(params).endCell());
}
