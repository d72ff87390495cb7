import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { decodeSignedReceipt, type SignedReceipt, streamId } from "../../protocol";
import { MemoryReceiptStore, type ReceiptStore, type StreamRecord } from "../receipt-store";

/**
 * The headless provider's receipts: the in-memory store, written to one JSON file after every
 * change. Each write goes to a temporary file renamed over the old one, so a crash leaves the old
 * file or the new one, never half of either; `put` resolves only once the receipt is on disk.
 */
interface StoredRecord {
  latest: string;
  claimed: string;
  updatedAt: number;
}

export class FileReceiptStore implements ReceiptStore {
  private readonly memory: MemoryReceiptStore;

  constructor(private readonly path: string) {
    this.memory = new MemoryReceiptStore(Date.now, existsSync(path) ? readRecords(path) : []);
  }

  async put(signed: SignedReceipt): Promise<"stored" | "older"> {
    const result = await this.memory.put(signed);
    if (result === "stored") await this.save();
    return result;
  }

  get(id: string): Promise<StreamRecord | undefined> {
    return this.memory.get(id);
  }

  list(): Promise<StreamRecord[]> {
    return this.memory.list();
  }

  async setClaimed(id: string, claimed: bigint): Promise<void> {
    await this.memory.setClaimed(id, claimed);
    await this.save();
  }

  private async save(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const out: Record<string, StoredRecord> = {};
    for (const r of await this.memory.list())
      out[r.id] = { latest: r.latest, claimed: r.claimed.toString(), updatedAt: r.updatedAt };
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
      const record = { id, latest: r.latest, claimed: BigInt(r.claimed), updatedAt: Number(r.updatedAt) };
      if (streamId(decodeSignedReceipt(record.latest).receipt) !== id)
        throw new Error("stream id does not match its receipt");
      return record;
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : "unreadable";
    throw new Error(`the receipts file ${path} is damaged (${why}); restore it from a backup before serving`);
  }
}
