import { type SignedAnswer, type SignedReceipt, type StreamKey, streamId } from "../../protocol";

/**
 * Where a requester keeps the last receipt it signed on each stream (escrow, payout address, key
 * epoch), so cumulative totals survive a reload or a new session. `save` settles only once the
 * receipt is persisted.
 */
export interface PaymentAccount {
  last(stream: StreamKey): Promise<SignedReceipt | undefined>;
  save(receipt: SignedReceipt): Promise<void>;
  /** Keeps a provider's verified signed answer beside the receipts (evidence for an audit report). */
  keepAnswer?(answer: SignedAnswer): Promise<void>;
}

/** How many signed answers a memory account keeps (the newest). */
export const KEPT_ANSWERS = 256;

export class MemoryPaymentAccount implements PaymentAccount {
  private readonly streams = new Map<string, SignedReceipt>();

  async last(stream: StreamKey): Promise<SignedReceipt | undefined> {
    return this.streams.get(streamId(stream));
  }

  async save(receipt: SignedReceipt): Promise<void> {
    this.streams.set(streamId(receipt.receipt), receipt);
  }

  readonly answers: SignedAnswer[] = [];

  async keepAnswer(answer: SignedAnswer): Promise<void> {
    this.answers.push(answer);
    if (this.answers.length > KEPT_ANSWERS) this.answers.shift();
  }
}
