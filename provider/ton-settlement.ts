import { TonClient } from "@ton/ton";
import { EscrowParams } from "../contracts/generated/constants";
import { Escrow } from "../contracts/wrappers/escrow";
import { EscrowClaimChain } from "./claim-chain";
import type { ReceiptStore } from "./receipt-store";
import { Settlement } from "./settlement";
import type { SettlementPolicy } from "./settlement-policy";

/**
 * Settlement against a real chain through TonClient: the devnet, testnet or mainnet, chosen by
 * the endpoint alone. Claims go out as external messages, so the provider needs no TON.
 */
export const DEFAULT_SETTLEMENT_POLICY: SettlementPolicy = {
  thresholdNano: 1_000_000_000n, // claim mid-session once 1 TON is unclaimed on a stream
  minClaimNano: EscrowParams.MIN_CLAIM,
  maxAttempts: 5,
  retryBaseMs: 2_000,
};

export function tonSettlement(o: {
  endpoint: string;
  apiKey?: string;
  store: ReceiptStore;
  policy?: Partial<SettlementPolicy>;
}): Settlement {
  const client = new TonClient({ endpoint: o.endpoint, ...(o.apiKey ? { apiKey: o.apiKey } : {}) });
  const chain = new EscrowClaimChain((escrow) => client.open(Escrow.createFromAddress(escrow)));
  return new Settlement({ store: o.store, chain, policy: { ...DEFAULT_SETTLEMENT_POLICY, ...o.policy } });
}
