import { type Address, type Builder, beginCell, Cell, type Slice } from "@ton/core";
import { Buffer } from "buffer";
import { MalformedMessageError, ReceiptBindingError, ReceiptConflictError } from "./errors";
import { sign, verify } from "./identity";

/**
 * A receipt is the requester's promise, cumulative and signed: "over all my sessions with this
 * payout address, through this escrow, on this network, I owe tokens/amount so far". Only the
 * newest one matters, so an old one is worth nothing and a lost one costs only the difference.
 *
 * The layout is a TON cell that the Escrow contract parses; the signature is Ed25519 over the
 * cell's representation hash, exactly what TVM's `check_signature(cell.hash(), sig, key)` checks.
 *
 * TL-B:
 *   receipt#534c4b52 network:int32 escrow:MsgAddressInt payout:MsgAddressInt
 *     key_epoch:uint32 tokens:uint64 amount:Coins = Receipt;
 *   signed_receipt$_ signature:bits512 session_key:bits256 receipt:^Receipt = SignedReceipt;
 *
 * The session key stays outside the signed cell: a signature only verifies under its own key, and
 * leaving it out keeps the receipt within one cell (at most 818 of 1023 bits).
 */
export const RECEIPT_TAG = 0x534c4b52; // "SLKR"

/** TON global ids: receipts of one network are worthless on another. */
export const NETWORK_ID = { mainnet: -239, testnet: -3, devnet: -1000 } as const;
export type NetworkName = keyof typeof NETWORK_ID;

export const MAX_RECEIPT_TOKENS = 2n ** 64n - 1n;
export const MAX_COINS = 2n ** 120n - 1n;

export interface Receipt {
  readonly network: number;
  readonly escrow: Address;
  readonly payout: Address;
  readonly keyEpoch: number;
  /** Cumulative tokens (prompt and completion) receipted to this payout address. */
  readonly tokens: bigint;
  /** Cumulative nanoTON owed to this payout address. */
  readonly amount: bigint;
}

export interface SignedReceipt {
  readonly receipt: Receipt;
  readonly sessionKey: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The binding a receipt and a reserve raise share, checked before either is written: a network
 * that is no 32-bit integer or a key epoch that is no 32-bit unsigned one is refused by name,
 * not left to the cell builder's untyped error.
 */
export function checkStreamFields(r: { readonly network: number; readonly keyEpoch: number }): void {
  if (!Number.isInteger(r.network) || r.network < -(2 ** 31) || r.network >= 2 ** 31)
    throw new MalformedMessageError(`network ${r.network} is not a 32-bit integer`);
  if (!Number.isInteger(r.keyEpoch) || r.keyEpoch < 0 || r.keyEpoch > 0xffffffff)
    throw new MalformedMessageError(`key epoch ${r.keyEpoch} is not a 32-bit unsigned integer`);
}

/**
 * Whether one receipt can carry these totals (tokens within 64 bits, the amount within Coins): a
 * provider streams nothing past them, since no receipt could ever pay for it.
 */
export function receiptCanCarry(t: { readonly tokens: bigint; readonly amount: bigint }): boolean {
  return t.tokens <= MAX_RECEIPT_TOKENS && t.amount <= MAX_COINS;
}

/** Why nothing more is served on a stream whose totals no receipt could carry. */
export const STREAM_FULL_MESSAGE = `a receipt counts at most ${MAX_RECEIPT_TOKENS} tokens and ${MAX_COINS} nanoTON on one stream, and more would pass that: authorise a new session key (its stream starts at zero)`;

export function storeReceipt(r: Receipt): (b: Builder) => void {
  return (b) => {
    checkStreamFields(r);
    if (r.tokens < 0n || r.tokens > MAX_RECEIPT_TOKENS)
      throw new MalformedMessageError("receipt tokens out of range");
    if (r.amount < 0n || r.amount > MAX_COINS) throw new MalformedMessageError("receipt amount out of range");
    b.storeUint(RECEIPT_TAG, 32)
      .storeInt(r.network, 32)
      .storeAddress(r.escrow)
      .storeAddress(r.payout)
      .storeUint(r.keyEpoch, 32)
      .storeUint(r.tokens, 64)
      .storeCoins(r.amount);
  };
}

export function loadReceipt(s: Slice): Receipt {
  if (s.loadUint(32) !== RECEIPT_TAG) throw new MalformedMessageError("not a receipt cell");
  const receipt: Receipt = {
    network: s.loadInt(32),
    escrow: s.loadAddress(),
    payout: s.loadAddress(),
    keyEpoch: s.loadUint(32),
    tokens: s.loadUintBig(64),
    amount: s.loadCoins(),
  };
  s.endParse();
  return receipt;
}

export function receiptCell(r: Receipt): Cell {
  return beginCell().store(storeReceipt(r)).endCell();
}

export function storeSignedReceipt(sr: SignedReceipt): (b: Builder) => void {
  return (b) => {
    b.storeBuffer(Buffer.from(sr.signature), 64)
      .storeBuffer(Buffer.from(sr.sessionKey), 32)
      .storeRef(receiptCell(sr.receipt));
  };
}

export function loadSignedReceipt(s: Slice): SignedReceipt {
  const signature = new Uint8Array(s.loadBuffer(64));
  const sessionKey = new Uint8Array(s.loadBuffer(32));
  const cell = s.loadRef();
  const receipt = loadReceipt(cell.beginParse());
  s.endParse();
  // One layout only: a cell that reads as a receipt but is written otherwise (an anycast payout,
  // which the escrow refuses; an amount padded with zero bytes; a ref hung on it) is not one,
  // rather than a receipt whose signature happens not to verify.
  if (!receiptCell(receipt).hash().equals(cell.hash()))
    throw new MalformedMessageError("receipt is not laid out as receipt.ts writes one");
  return { receipt, sessionKey, signature };
}

export function signReceipt(
  receipt: Receipt,
  sessionKey: { publicKey: Uint8Array; secretKey: Uint8Array },
): SignedReceipt {
  const hash = receiptCell(receipt).hash();
  return { receipt, sessionKey: sessionKey.publicKey, signature: sign(sessionKey.secretKey, hash) };
}

export function verifyReceiptSignature(sr: SignedReceipt): boolean {
  let hash: Uint8Array;
  try {
    hash = receiptCell(sr.receipt).hash();
  } catch {
    return false;
  }
  return verify(sr.sessionKey, hash, sr.signature);
}

/** Base64 BOC: the text form receipts travel in and are stored as. */
export function encodeSignedReceipt(sr: SignedReceipt): string {
  return beginCell().store(storeSignedReceipt(sr)).endCell().toBoc().toString("base64");
}

export const MAX_SIGNED_RECEIPT_CHARS = 512;

export function decodeSignedReceipt(text: string): SignedReceipt {
  if (typeof text !== "string" || text.length > MAX_SIGNED_RECEIPT_CHARS) {
    throw new MalformedMessageError("signed receipt is not a short base64 string");
  }
  try {
    const cells = Cell.fromBoc(Buffer.from(text, "base64"));
    if (cells.length !== 1) throw new MalformedMessageError("signed receipt must be one root cell");
    return loadSignedReceipt(cells[0]!.beginParse());
  } catch (cause) {
    if (cause instanceof MalformedMessageError) throw cause;
    throw new MalformedMessageError("signed receipt is not a valid cell", { cause });
  }
}

/** What the verifying side expects a receipt to be bound to. */
export interface ReceiptBinding {
  readonly network: number;
  readonly escrow: Address;
  readonly payout: Address;
}

export function checkBinding(r: Receipt, expected: ReceiptBinding): void {
  if (r.network !== expected.network) throw new ReceiptBindingError("network");
  if (!r.escrow.equals(expected.escrow)) throw new ReceiptBindingError("escrow");
  if (!r.payout.equals(expected.payout)) throw new ReceiptBindingError("payout address");
}

/**
 * A stream: what one cumulative count runs over. The escrow pays each (network, escrow, payout,
 * key epoch) once, so receipts of different streams never compare: a new session key (a new
 * epoch) starts its own count at zero.
 */
export interface StreamKey {
  readonly network: number;
  readonly escrow: Address;
  readonly payout: Address;
  readonly keyEpoch: number;
}

export function streamId(k: StreamKey): string {
  return `${k.network}/${k.escrow.toRawString()}/${k.payout.toRawString()}/${k.keyEpoch}`;
}

export type ReceiptOrder = "newer" | "older" | "same" | "conflicting" | "unrelated";

/**
 * How `a` stands to `b`. Receipts of the same stream only grow: both totals
 * move together. One that raises the amount but lowers the tokens (or the reverse) is a conflict:
 * a sign that the signer is confused or hostile, never something to keep silently.
 */
export function compareReceipts(a: Receipt, b: Receipt): ReceiptOrder {
  if (streamId(a) !== streamId(b)) return "unrelated";
  if (a.tokens === b.tokens && a.amount === b.amount) return "same";
  if (a.tokens >= b.tokens && a.amount >= b.amount) return "newer";
  if (a.tokens <= b.tokens && a.amount <= b.amount) return "older";
  return "conflicting";
}

/** Keeps the better of two receipts, throwing on a conflict rather than picking one. */
export function pickNewer(current: SignedReceipt | undefined, incoming: SignedReceipt): SignedReceipt {
  if (!current) return incoming;
  const order = compareReceipts(incoming.receipt, current.receipt);
  switch (order) {
    case "newer":
      return incoming;
    case "older":
    case "same":
      return current;
    case "conflicting":
      throw new ReceiptConflictError("receipt conflicts with a newer one already held");
    case "unrelated":
      throw new ReceiptConflictError(
        "receipt is for a different stream (escrow, payout address or key epoch)",
      );
  }
}
