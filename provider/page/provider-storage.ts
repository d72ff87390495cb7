import { generateKeyPair, type KeyPair, keyPairFromSecret } from "../../protocol/identity";
import type { SignedReceipt } from "../../protocol/receipt";
import { KvEntry, type SilkDb } from "../../web/page-db";
import {
  type ClaimRecord,
  mergeReceipt,
  type ReceiptStore,
  raiseClaimed,
  type StreamRecord,
  streamId,
} from "../receipt-store";
import type { EarningSample } from "./earnings-chart";
import type { ProviderSettings, ServedTotals } from "./provider-settings";

export type { ProviderSettings, ServedTotals } from "./provider-settings";

export class ProviderStorage {
  readonly settings: KvEntry<ProviderSettings>;
  readonly totals: KvEntry<ServedTotals>;
  private readonly identitySecret: KvEntry<Uint8Array>;

  constructor(private readonly db: SilkDb) {
    this.settings = new KvEntry(db, "provider.settings");
    this.totals = new KvEntry(db, "provider.totals");
    this.identitySecret = new KvEntry(db, "provider.identity");
    this.receipts = new IdbReceiptStore(db);
  }

  /** The provider's identity key, made once in this browser and kept. */
  async identity(): Promise<KeyPair> {
    const secret = await this.identitySecret.get();
    if (secret) return keyPairFromSecret(new Uint8Array(secret));
    const pair = generateKeyPair();
    await this.identitySecret.set(pair.secretKey);
    return pair;
  }

  /** Every receipt stream, whatever its payout address; records say which. */
  readonly receipts: IdbReceiptStore;

  async addSample(sample: EarningSample): Promise<void> {
    await this.db.put("earnings", sample);
    const keys = await this.db.getAllKeys("earnings");
    for (const old of keys.slice(0, Math.max(0, keys.length - 200))) await this.db.delete("earnings", old);
  }

  samples(): Promise<EarningSample[]> {
    return this.db.getAll("earnings");
  }
}

const DURABLE: IDBTransactionOptions = { durability: "strict" };

/**
 * The provider's receipt streams in IndexedDB (the browser's `ReceiptStore`): newest-wins and
 * conflicts decided by `mergeReceipt`, read and written in one transaction that has committed
 * before `put` settles, so a token streamed on a receipt's credit is never owed by a lost one.
 * Writes ask for `strict` durability (flushed to disk before `complete`): Chromium's default,
 * `relaxed`, may lose a committed receipt to a power cut.
 */
export class IdbReceiptStore implements ReceiptStore {
  constructor(private readonly db: SilkDb) {}

  async put(signed: SignedReceipt, payable = true): Promise<"stored" | "older"> {
    const tx = this.db.transaction("streams", "readwrite", DURABLE);
    const merged = mergeReceipt(await tx.store.get(streamId(signed.receipt)), signed, Date.now(), payable);
    if (merged === "older") {
      await tx.done;
      return "older";
    }
    await tx.store.put(merged);
    await tx.done;
    return "stored";
  }

  get(id: string): Promise<StreamRecord | undefined> {
    return this.db.get("streams", id);
  }

  list(): Promise<StreamRecord[]> {
    return this.db.getAll("streams");
  }

  async setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void> {
    const tx = this.db.transaction("streams", "readwrite", DURABLE);
    const s = await tx.store.get(id);
    const raised = s && raiseClaimed(s, claimed, Date.now(), claim);
    if (raised) await tx.store.put(raised);
    await tx.done;
  }
}
