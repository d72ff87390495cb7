import { type SignedReceipt, type StreamKey, streamId } from "../../protocol";

/**
 * Where a requester keeps the last receipt it signed on each stream (escrow, payout address, key
 * epoch), so cumulative totals survive a reload or a new session. `save` settles only once the
 * receipt is persisted.
 */
export interface PaymentAccount {
  last(stream: StreamKey): Promise<SignedReceipt | undefined>;
  save(receipt: SignedReceipt): Promise<void>;
}

export class MemoryPaymentAccount implements PaymentAccount {
  private readonly streams = new Map<string, SignedReceipt>();

  async last(stream: StreamKey): Promise<SignedReceipt | undefined> {
    return this.streams.get(streamId(stream));
  }

  async save(receipt: SignedReceipt): Promise<void> {
    this.streams.set(streamId(receipt.receipt), receipt);
  }
}
