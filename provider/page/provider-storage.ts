import type { Address } from "@ton/core";
import {
  decodeSignedReceipt,
  encodeSignedReceipt,
  generateKeyPair,
  type KeyPair,
  keyPairFromSecret,
  pickNewer,
  ReceiptBindingError,
  type SignedReceipt,
} from "../../protocol";
import { KvEntry, type SilkDb } from "../../web/page-db";
import type { HeldReceipts } from "../serving/held-receipts";
import type { EarningSample } from "./earnings";

/** What the provider page keeps across reloads: identity key, settings, receipts, earnings, totals. */
export interface ProviderSettings {
  model?: string;
  /** nanoTON per token. */
  price: bigint;
  payout?: string;
  /** Serving when the tab was closed: a reload resumes it. */
  serving: boolean;
}

export interface ServedTotals {
  requests: number;
  tokens: number;
}

export const DEFAULT_SETTINGS: ProviderSettings = { price: 1_000n, serving: false };

export class ProviderStorage {
  readonly settings: KvEntry<ProviderSettings>;
  readonly totals: KvEntry<ServedTotals>;
  private readonly identitySecret: KvEntry<Uint8Array>;

  constructor(private readonly db: SilkDb) {
    this.settings = new KvEntry(db, "provider.settings");
    this.totals = new KvEntry(db, "provider.totals");
    this.identitySecret = new KvEntry(db, "provider.identity");
  }

  /** The provider's identity key, made once in this browser and kept. */
  async identity(): Promise<KeyPair> {
    const secret = await this.identitySecret.get();
    if (secret) return keyPairFromSecret(new Uint8Array(secret));
    const pair = generateKeyPair();
    await this.identitySecret.set(pair.secretKey);
    return pair;
  }

  /** Receipts bound to one payout address (receipts for another are kept apart). */
  receipts(payout: Address): IdbHeldReceipts {
    return new IdbHeldReceipts(this.db, payout);
  }

  async allReceipts(): Promise<SignedReceipt[]> {
    return (await this.db.getAll("receipts")).map((r) => decodeSignedReceipt(r.text));
  }

  async addSample(sample: EarningSample): Promise<void> {
    await this.db.put("earnings", sample);
    const keys = await this.db.getAllKeys("earnings");
    for (const old of keys.slice(0, Math.max(0, keys.length - 200))) await this.db.delete("earnings", old);
  }

  samples(): Promise<EarningSample[]> {
    return this.db.getAll("earnings");
  }
}

/**
 * The serving loop's receipts in IndexedDB: the best receipt per escrow, written (and committed)
 * before `put` settles, so a token streamed on a receipt's credit is never owed by a lost one.
 */
export class IdbHeldReceipts implements HeldReceipts {
  constructor(
    private readonly db: SilkDb,
    private readonly payout: Address,
  ) {}

  private key(escrow: Address): string {
    return `${this.payout.toRawString()}|${escrow.toRawString()}`;
  }

  async best(escrow: Address): Promise<SignedReceipt | undefined> {
    const row = await this.db.get("receipts", this.key(escrow));
    return row ? decodeSignedReceipt(row.text) : undefined;
  }

  async put(receipt: SignedReceipt): Promise<void> {
    if (!receipt.receipt.payout.equals(this.payout)) throw new ReceiptBindingError("payout address");
    const key = this.key(receipt.receipt.escrow);
    const tx = this.db.transaction("receipts", "readwrite");
    const row = await tx.store.get(key);
    const kept = pickNewer(row ? decodeSignedReceipt(row.text) : undefined, receipt);
    await tx.store.put({ key, text: encodeSignedReceipt(kept), at: Date.now() });
    await tx.done;
  }
}
