import { Address } from "@ton/core";
import {
  generateKeyPair,
  type KeyPair,
  NETWORK_ID,
  type Receipt,
  type SignedReceipt,
  signReceipt,
} from "../../protocol";

/**
 * Receipts on numbered streams (stream i: its own escrow, one payout), each `tokens` long at 10
 * nanoTON a token, for the receipt store tests and their child writer process.
 */
export const PAYOUT = Address.parse(`0:${"22".repeat(32)}`);

export function escrowOf(stream: number): Address {
  return Address.parse(`0:${stream.toString(16).padStart(64, "0")}`);
}

/** The receipt for `tokens` on stream `stream`, before anyone signs it. */
export function receiptFor(stream: number, tokens: number): Receipt {
  return {
    network: NETWORK_ID.devnet,
    escrow: escrowOf(stream),
    payout: PAYOUT,
    keyEpoch: 1,
    tokens: BigInt(tokens),
    amount: BigInt(tokens) * 10n,
  };
}

export function receiptOn(stream: number, tokens: number, key: KeyPair): SignedReceipt {
  return signReceipt(receiptFor(stream, tokens), key);
}

export { generateKeyPair };
