import { type DBSchema, type IDBPDatabase, openDB } from "idb";

/**
 * The one IndexedDB database of a Silk origin. Each concern has its own store; values are
 * structured-cloned (bigints and Uint8Arrays survive as they are). Pages open it once and pass it
 * to the small persistence classes next to them.
 */
export interface SilkDbSchema extends DBSchema {
  /** Small values under fixed keys: settings, the identity key, totals. */
  kv: { key: string; value: unknown };
  /** Receipts, as their text form (`encodeSignedReceipt`), keyed by a caller-chosen string. */
  receipts: { key: string; value: { key: string; text: string; at: number } };
  /** Conversations of the web client, newest last. */
  conversations: { key: string; value: { id: string; updatedAt: number; [k: string]: unknown } };
  /** The provider's receipt streams (provider/receipt-store.ts's StreamRecord), keyed by stream id. */
  streams: { key: string; value: { id: string; latest: string; claimed: bigint; updatedAt: number } };
  /** Samples of earnings over time for the provider's chart. */
  earnings: { key: number; value: { at: number; earned: bigint; claimed: bigint } };
}

export type SilkDb = IDBPDatabase<SilkDbSchema>;

export const DB_NAME = "silk";
const VERSION = 2;

export class StorageUnavailableError extends Error {
  override readonly name = "StorageUnavailableError";
}

export async function openSilkDb(name = DB_NAME): Promise<SilkDb> {
  if (typeof indexedDB === "undefined") {
    throw new StorageUnavailableError("this browser offers no IndexedDB: nothing could survive a reload");
  }
  try {
    return await openDB<SilkDbSchema>(name, VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) {
          db.createObjectStore("kv");
          db.createObjectStore("receipts", { keyPath: "key" });
          db.createObjectStore("conversations", { keyPath: "id" });
          db.createObjectStore("earnings", { keyPath: "at" });
        }
        if (oldVersion < 2) db.createObjectStore("streams", { keyPath: "id" });
      },
    });
  } catch (cause) {
    throw new StorageUnavailableError(
      "IndexedDB refused to open (private mode or storage blocked): nothing could survive a reload",
      { cause },
    );
  }
}

/** A typed view of one key of the `kv` store. */
export class KvEntry<T> {
  constructor(
    private readonly db: SilkDb,
    private readonly key: string,
  ) {}

  async get(): Promise<T | undefined> {
    return (await this.db.get("kv", this.key)) as T | undefined;
  }

  async set(value: T): Promise<void> {
    await this.db.put("kv", value, this.key);
  }
}
