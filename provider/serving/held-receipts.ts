import type { SignedReceipt, StreamKey } from "../../protocol";
import { latestReceipt, type ReceiptStore, streamId } from "../receipt-store";

/**
 * What the serving loop needs of the receipt store: the newest receipt of a stream, and a way to
 * keep a new one that resolves only once it is durable (the loop streams more tokens on its
 * credit only after that). With settlement, keeping a receipt also lets a claim start.
 */
export interface HeldReceipts {
  best(stream: StreamKey): Promise<SignedReceipt | undefined>;
  /** `payable: false`: above what the escrow can pay; kept beside the last payable one. */
  keep(receipt: SignedReceipt, payable?: boolean): Promise<void>;
}

export function heldIn(
  store: ReceiptStore,
  settlement?: { accept(r: SignedReceipt, payable?: boolean): Promise<void> },
): HeldReceipts {
  return {
    async best(stream) {
      const record = await store.get(streamId(stream));
      return record && latestReceipt(record);
    },
    async keep(receipt, payable = true) {
      if (settlement) await settlement.accept(receipt, payable);
      else await store.put(receipt, payable);
    },
  };
}
