import type { Address } from "@ton/core";
import type { SignedReceipt } from "../../protocol";

/**
 * Where a requester keeps the last receipt it signed per payout address, so cumulative totals
 * survive a reload or a new session. `save` settles only once the receipt is persisted.
 */
export interface PaymentAccount {
  last(payout: Address): Promise<SignedReceipt | undefined>;
  save(receipt: SignedReceipt): Promise<void>;
}

export class MemoryPaymentAccount implements PaymentAccount {
  private readonly byPayout = new Map<string, SignedReceipt>();

  async last(payout: Address): Promise<SignedReceipt | undefined> {
    return this.byPayout.get(payout.toRawString());
  }

  async save(receipt: SignedReceipt): Promise<void> {
    this.byPayout.set(receipt.receipt.payout.toRawString(), receipt);
  }
}
