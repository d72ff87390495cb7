import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { SignedReceipt } from "../../protocol";
import { mergeReceipt, type ReceiptStore, type StreamRecord, streamId } from "../receipt-store";

/**
 * The headless provider's receipts: the same ReceiptStore as in memory, kept in one JSON file.
 * Each change writes a temporary file and renames it over the old one, so a crash leaves the old
 * file or the new one, never half of either; `put` resolves only once the receipt is on disk.
 */
interface StoredRecord {
  latest: string;
  claimed: string;
  updatedAt: number;
}

export class FileReceiptStore implements ReceiptStore {
  private readonly streams = new Map<string, StreamRecord>();

  constructor(private readonly path: string) {
    if (!existsSync(path)) return;
    const stored = JSON.parse(readFileSync(path, "utf8")) as Record<string, StoredRecord>;
    for (const [id, r] of Object.entries(stored)) {
      this.streams.set(id, { id, latest: r.latest, claimed: BigInt(r.claimed), updatedAt: r.updatedAt });
    }
  }

  async put(signed: SignedReceipt): Promise<"stored" | "older"> {
    const merged = mergeReceipt(this.streams.get(streamId(signed.receipt)), signed, Date.now());
    if (merged === "older") return "older";
    this.streams.set(merged.id, merged);
    this.save();
    return "stored";
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    return this.streams.get(id);
  }

  async list(): Promise<StreamRecord[]> {
    return [...this.streams.values()];
  }

  async setClaimed(id: string, claimed: bigint): Promise<void> {
    const s = this.streams.get(id);
    if (!s || claimed <= s.claimed) return;
    this.streams.set(id, { ...s, claimed, updatedAt: Date.now() });
    this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const out: Record<string, StoredRecord> = {};
    for (const [id, r] of this.streams)
      out[id] = { latest: r.latest, claimed: r.claimed.toString(), updatedAt: r.updatedAt };
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(out, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
