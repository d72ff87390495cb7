import { TonClient } from "@ton/ton";
import { EscrowParams } from "../contracts/generated/constants";
import { Escrow } from "../contracts/wrappers/escrow";
import { type AccountGate, accountGate } from "./account-gate";
import { EscrowClaimChain } from "./claim-chain";
import type { ReceiptStore } from "./receipt-store";
import { Settlement } from "./settlement";
import type { SettlementPolicy } from "./settlement-policy";

/**
 * The provider's view of a real chain through TonClient (the devnet, testnet or mainnet, chosen
 * by the endpoint alone): settlement, claiming as external messages so the provider needs no TON,
 * and the gate that checks a requester's escrow before serving it.
 */
export const DEFAULT_SETTLEMENT_POLICY: SettlementPolicy = {
  thresholdNano: 1_000_000_000n, // claim mid-session once 1 TON is unclaimed on a stream
  minClaimNano: EscrowParams.MIN_CLAIM,
  maxAttempts: 5,
  retryBaseMs: 2_000,
};

export function connectTon(o: {
  endpoint: string;
  apiKey?: string;
  store: ReceiptStore;
  policy?: Partial<SettlementPolicy>;
}): {
  settlement: Settlement;
  gate: AccountGate;
} {
  const client = new TonClient({ endpoint: o.endpoint, ...(o.apiKey ? { apiKey: o.apiKey } : {}) });
  const open = (address: Parameters<typeof Escrow.createFromAddress>[0]) =>
    client.open(Escrow.createFromAddress(address));
  const settlement = new Settlement({
    store: o.store,
    chain: new EscrowClaimChain(open),
    policy: { ...DEFAULT_SETTLEMENT_POLICY, ...o.policy },
  });
  // A session must be able to pay at least one claim's worth: below that nothing can be settled.
  const gate = accountGate(async (address, base, sessionKey) => {
    const escrow = open(address);
    const [data, key, paid] = await Promise.all([
      escrow.getEscrowData(),
      escrow.getKey(sessionKey),
      escrow.getPaid(base.keyEpoch, base.payout),
    ]);
    return {
      network: data.network,
      closing: data.unlockAt !== 0,
      key: key && { epoch: key.epoch, active: BigInt(key.validUntil) === EscrowParams.KEY_ACTIVE },
      available: data.balance - EscrowParams.STORAGE_RESERVE,
      paid,
    };
  }, EscrowParams.MIN_CLAIM);
  return { settlement, gate };
}
