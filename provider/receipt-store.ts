import { ReceiptConflictError } from "../protocol/errors";
import {
  compareReceipts,
  decodeSignedReceipt,
  encodeSignedReceipt,
  type SignedReceipt,
  streamId,
} from "../protocol/receipt";

/**
 * Where a provider keeps the receipts it is owed, one stream per (network, escrow, payout, key
 * epoch): the escrow pays each stream's cumulative amount once. Only the newest receipt of a
 * stream matters. `put` resolves only once the receipt is durable, so the serving loop awaits it
 * before streaming more tokens on that receipt's credit. An in-memory store here; the headless
 * provider's fsynced log (`headless/receipt-log-store.ts`) and the page's IndexedDB store
 * (`page/provider-storage.ts`) implement the same interface.
 */
export interface StreamRecord {
  readonly id: string;
  /** The newest receipt held, in its text form (encodeSignedReceipt). */
  readonly latest: string;
  /** Cumulative nanoTON the escrow is known to have paid this stream. */
  readonly claimed: bigint;
  readonly updatedAt: number;
  /**
   * Present only when the newest receipt was for more than the escrow could pay when it came:
   * the last receipt it could (text form), so a bad newest receipt never loses the honest part.
   */
  readonly payable?: string;
  /** Since when (ms) something on this stream has been held unclaimed; undefined when all is paid. */
  readonly heldSince?: number;
  /** The claims that paid this stream, oldest first (the last MAX_CLAIM_RECORDS). */
  readonly claims?: readonly ClaimRecord[];
}

/** One claim that paid: how much came out of the escrow, the fees it cost, and why it was sent. */
export interface ClaimRecord {
  readonly at: number;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly reason: string;
  /** The escrow's transaction that took the claim (hash, hex), when the chain could name it. */
  readonly tx?: string;
}

export const MAX_CLAIM_RECORDS = 50;

/**
 * The reason of a claim record that is not this provider's: someone else claimed its receipt in a
 * small amount, at its fee (escrow-book.ts). Its `fee` is 0: what it cost is not known here.
 */
export const FOREIGN_CLAIM_REASON = "claimed by someone else in a small amount, at this provider's fee";

/** The foreign small claims each escrow's streams recorded, by escrow (raw address). */
export function foreignClaimsByEscrow(records: readonly StreamRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) {
    const n = (r.claims ?? []).filter((c) => c.reason === FOREIGN_CLAIM_REASON).length;
    if (n === 0) continue;
    const escrow = latestReceipt(r).receipt.escrow.toRawString();
    out.set(escrow, (out.get(escrow) ?? 0) + n);
  }
  return out;
}

export interface ReceiptStore {
  /**
   * Keeps the receipt if it is newer than the one held; throws ReceiptConflictError on a conflict.
   * `payable: false` (more than the escrow can pay) keeps the last payable receipt beside it.
   */
  put(signed: SignedReceipt, payable?: boolean): Promise<"stored" | "older">;
  get(id: string): Promise<StreamRecord | undefined>;
  list(): Promise<StreamRecord[]>;
  /** Records what the escrow has paid this stream (never lowers it), and the claim that paid it. */
  setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void>;
}

export { streamId };

export function latestReceipt(record: StreamRecord): SignedReceipt {
  return decodeSignedReceipt(record.latest);
}

/** The newest receipt the escrow could pay when it came (the newest one, unless marked otherwise). */
export function payableReceipt(record: StreamRecord): SignedReceipt {
  return decodeSignedReceipt(record.payable ?? record.latest);
}

/** Keeps newest-wins and conflict rules in one place for every store implementation. */
export function mergeReceipt(
  current: StreamRecord | undefined,
  signed: SignedReceipt,
  now: number,
  payable = true,
): StreamRecord | "older" {
  const id = streamId(signed.receipt);
  if (!current) {
    // The first receipt of a stream is its base: judged payable by the gate, or the session never opens.
    return { id, latest: encodeSignedReceipt(signed), claimed: 0n, updatedAt: now, heldSince: now };
  }
  const held = latestReceipt(current);
  switch (compareReceipts(signed.receipt, held.receipt)) {
    case "newer": {
      const { payable: _previous, ...rest } = current;
      const allPaid = current.claimed >= held.receipt.amount;
      return {
        ...rest,
        latest: encodeSignedReceipt(signed),
        updatedAt: now,
        heldSince: allPaid || current.heldSince === undefined ? now : current.heldSince,
        ...(payable ? {} : { payable: current.payable ?? current.latest }),
      };
    }
    case "older":
    case "same":
      return "older";
    default:
      throw new ReceiptConflictError("receipt conflicts with the newest one held for its stream");
  }
}

/** A stream's record once the escrow is known to have paid `claimed` (undefined: nothing changes). */
export function raiseClaimed(
  record: StreamRecord,
  claimed: bigint,
  now: number,
  claim?: ClaimRecord,
): StreamRecord | undefined {
  if (claimed <= record.claimed && !claim) return undefined;
  const allPaid = claimed >= latestReceipt(record).receipt.amount;
  const { heldSince, ...rest } = record;
  return {
    ...rest,
    claimed: claimed > record.claimed ? claimed : record.claimed,
    updatedAt: now,
    ...(allPaid || heldSince === undefined ? {} : { heldSince }),
    ...(claim ? { claims: [...(record.claims ?? []), claim].slice(-MAX_CLAIM_RECORDS) } : {}),
  };
}

/**
 * The rules applied to a map in memory. Durable stores keep one and write what `apply` and
 * `applyClaimed` return (the changed record), so every store decides the same way.
 */
export class MemoryReceiptStore implements ReceiptStore {
  private readonly streams = new Map<string, StreamRecord>();

  /** `initial`: records restored from durable storage by a store that persists this one. */
  constructor(
    private readonly now: () => number = Date.now,
    initial: Iterable<StreamRecord> = [],
  ) {
    for (const r of initial) this.streams.set(r.id, r);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Keeps the receipt now if newer (throws ReceiptConflictError on a conflict): the new record. */
  apply(signed: SignedReceipt, payable = true): StreamRecord | "older" {
    const merged = mergeReceipt(this.streams.get(streamId(signed.receipt)), signed, this.now(), payable);
    if (merged !== "older") this.streams.set(merged.id, merged);
    return merged;
  }

  /** Records a paid total (and the claim that paid it) now: the changed record, or undefined. */
  applyClaimed(id: string, claimed: bigint, claim?: ClaimRecord): StreamRecord | undefined {
    const s = this.streams.get(id);
    const raised = s && raiseClaimed(s, claimed, this.now(), claim);
    if (raised) this.streams.set(id, raised);
    return raised;
  }

  /** Every record as it is now (a copy: safe to write out while the store changes). */
  snapshot(): StreamRecord[] {
    return [...this.streams.values()];
  }

  async put(signed: SignedReceipt, payable = true): Promise<"stored" | "older"> {
    return this.apply(signed, payable) === "older" ? "older" : "stored";
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    return this.streams.get(id);
  }

  async list(): Promise<StreamRecord[]> {
    return this.snapshot();
  }

  async setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void> {
    this.applyClaimed(id, claimed, claim);
  }
}
