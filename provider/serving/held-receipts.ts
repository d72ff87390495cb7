import type { Address } from "@ton/core";
import type { SignedReceipt } from "../../protocol";

/**
 * Where the serving loop keeps the best receipt per escrow. `put` must have persisted the
 * receipt when its promise settles: the loop streams more tokens on its credit only after that.
 */
export interface HeldReceipts {
  best(escrow: Address): Promise<SignedReceipt | undefined>;
  put(receipt: SignedReceipt): Promise<void>;
}

/** Keeps receipts in memory; the page and the headless provider persist theirs. */
export class MemoryHeldReceipts implements HeldReceipts {
  private readonly byEscrow = new Map<string, SignedReceipt>();

  async best(escrow: Address): Promise<SignedReceipt | undefined> {
    return this.byEscrow.get(escrow.toRawString());
  }

  async put(receipt: SignedReceipt): Promise<void> {
    this.byEscrow.set(receipt.receipt.escrow.toRawString(), receipt);
  }

  all(): SignedReceipt[] {
    return [...this.byEscrow.values()];
  }
}
