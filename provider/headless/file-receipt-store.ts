import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { decodeSignedReceipt, type SignedReceipt, streamId } from "../../protocol";
import { type ClaimRecord, MemoryReceiptStore, type ReceiptStore, type StreamRecord } from "../receipt-store";

/**
 * The headless provider's receipts: the in-memory store, written to one JSON file after every
 * change. Each write goes to a temporary file renamed over the old one, so a crash leaves the old
 * file or the new one, never half of either; `put` resolves only once the receipt is on disk.
 */
interface StoredRecord {
  latest: string;
  claimed: string;
  updatedAt: number;
  payable?: string;
  heldSince?: number;
  claims?: { at: number; amount: string; fee: string; reason: string }[];
}

export class FileReceiptStore implements ReceiptStore {
  private readonly memory: MemoryReceiptStore;

  constructor(private readonly path: string) {
    this.memory = new MemoryReceiptStore(Date.now, existsSync(path) ? readRecords(path) : []);
  }

  async put(signed: SignedReceipt, payable = true): Promise<"stored" | "older"> {
    const result = await this.memory.put(signed, payable);
    if (result === "stored") await this.save();
    return result;
  }

  get(id: string): Promise<StreamRecord | undefined> {
    return this.memory.get(id);
  }

  list(): Promise<StreamRecord[]> {
    return this.memory.list();
  }

  async setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void> {
    await this.memory.setClaimed(id, claimed, claim);
    await this.save();
  }

  private async save(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const out: Record<string, StoredRecord> = {};
    for (const r of await this.memory.list())
      out[r.id] = {
        latest: r.latest,
        claimed: r.claimed.toString(),
        updatedAt: r.updatedAt,
        ...(r.payable ? { payable: r.payable } : {}),
        ...(r.heldSince !== undefined ? { heldSince: r.heldSince } : {}),
        ...(r.claims
          ? { claims: r.claims.map((c) => ({ ...c, amount: c.amount.toString(), fee: c.fee.toString() })) }
          : {}),
      };
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(out, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

/** Reads and checks the file: a damaged one is a clear error naming it, never a half-read store. */
function readRecords(path: string): StreamRecord[] {
  try {
    const stored = JSON.parse(readFileSync(path, "utf8")) as Record<string, StoredRecord>;
    return Object.entries(stored).map(([id, r]) => {
      const record: StreamRecord = {
        id,
        latest: r.latest,
        claimed: BigInt(r.claimed),
        updatedAt: Number(r.updatedAt),
        ...(typeof r.payable === "string" ? { payable: r.payable } : {}),
        ...(typeof r.heldSince === "number" ? { heldSince: r.heldSince } : {}),
        ...(Array.isArray(r.claims)
          ? {
              claims: r.claims.map((c) => ({
                at: Number(c.at),
                amount: BigInt(c.amount),
                fee: BigInt(c.fee),
                reason: String(c.reason),
              })),
            }
          : {}),
      };
      if (streamId(decodeSignedReceipt(record.latest).receipt) !== id)
        throw new Error("stream id does not match its receipt");
      return record;
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : "unreadable";
    throw new Error(`the receipts file ${path} is damaged (${why}); restore it from a backup before serving`);
  }
}
