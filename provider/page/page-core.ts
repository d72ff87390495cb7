// The provider page's heavy half, loaded by ProviderStore with one dynamic import right after the
// page mounts: IndexedDB and the storage of the identity key and receipts, what is earned from
// them, payout addresses, the chain's config and everything with `@ton/core` (registration, the
// provider's entry, settlement). The page's status, checklist and model picker show before it
// arrives. browser-globals must come first: @ton/core expects Node's globals.
import "../../peer/browser-globals";

export { encodePublicKey } from "../../protocol/identity";
export { fetchModelsView } from "../../web/audit-counts";
export { fetchChainConfig, waitForChain } from "../../web/chain-config";
export { chainErrorText } from "../../web/chain-errors";
export { KvEntry, openSilkDb } from "../../web/page-db";
export {
  chainSkewMs,
  entryAddress,
  openChain,
  readEntry,
  readStake,
  registerPayload,
  stakePayloads,
} from "./chain-io";
export { earningsFrom } from "./earnings";
export { payoutProblem, rawAddress } from "./payout-address";
export { ProviderStorage } from "./provider-storage";
