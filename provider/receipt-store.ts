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
}

export interface ReceiptStore {
  /** Keeps the receipt if it is newer than the one held; throws ReceiptConflictError on a conflict. */
  put(signed: SignedReceipt): Promise<"stored" | "older">;
  get(id: string): Promise<StreamRecord | undefined>;
  list(): Promise<StreamRecord[]>;
  /** Records what the escrow has paid this stream (never lowers it). */
  setClaimed(id: string, claimed: bigint): Promise<void>;
}

export { streamId };

export function latestReceipt(record: StreamRecord): SignedReceipt {
  return decodeSignedReceipt(record.latest);
}

/** Keeps newest-wins and conflict rules in one place for every store implementation. */
export function mergeReceipt(
  current: StreamRecord | undefined,
  signed: SignedReceipt,
  now: number,
): StreamRecord | "older" {
  const id = streamId(signed.receipt);
  if (!current) return { id, latest: encodeSignedReceipt(signed), claimed: 0n, updatedAt: now };
  const held = latestReceipt(current);
  switch (compareReceipts(signed.receipt, held.receipt)) {
    case "newer":
      return { ...current, latest: encodeSignedReceipt(signed), updatedAt: now };
    case "older":
    case "same":
      return "older";
    default:
      throw new ReceiptConflictError("receipt conflicts with the newest one held for its stream");
  }
}

/** Raises what a stream is known to have been paid, never lowering it: the changed record, if any. */
export function raiseClaimed(record: StreamRecord, claimed: bigint, now: number): StreamRecord | undefined {
  return claimed > record.claimed ? { ...record, claimed, updatedAt: now } : undefined;
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
  apply(signed: SignedReceipt): StreamRecord | "older" {
    const merged = mergeReceipt(this.streams.get(streamId(signed.receipt)), signed, this.now());
    if (merged !== "older") this.streams.set(merged.id, merged);
    return merged;
  }

  /** Records a paid total now: the changed record, or undefined when nothing changed. */
  applyClaimed(id: string, claimed: bigint): StreamRecord | undefined {
    const s = this.streams.get(id);
    const raised = s && raiseClaimed(s, claimed, this.now());
    if (raised) this.streams.set(id, raised);
    return raised;
  }

  /** Every record as it is now (a copy: safe to write out while the store changes). */
  snapshot(): StreamRecord[] {
    return [...this.streams.values()];
  }

  async put(signed: SignedReceipt): Promise<"stored" | "older"> {
    return this.apply(signed) === "older" ? "older" : "stored";
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    return this.streams.get(id);
  }

  async list(): Promise<StreamRecord[]> {
    return this.snapshot();
  }

  async setClaimed(id: string, claimed: bigint): Promise<void> {
    this.applyClaimed(id, claimed);
  }
}
