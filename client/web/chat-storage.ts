import {
  decodeSignedReceipt,
  encodeSignedReceipt,
  generateKeyPair,
  type KeyPair,
  keyPairFromSecret,
  pickNewer,
  type SignedReceipt,
  type StreamKey,
  streamId,
} from "../../protocol";
import { KvEntry, type SilkDb } from "../../web/page-db";
import type { PaymentAccount } from "../sdk/payment-account";
import type { ChatSettings } from "./chat-settings";
import type { Conversation } from "./conversation";
import { type ConversationRecord, fromRecord, importConversations, toRecord } from "./conversation-file";
import { mergeConversation } from "./conversation-merge";
import { type ConversationHost, ConversationSync } from "./conversation-sync";

/** What the web client and the widget keep across reloads, in the origin's IndexedDB. */
export class ChatStorage {
  readonly settings: KvEntry<ChatSettings>;
  private readonly sessionSecret: KvEntry<Uint8Array>;
  readonly account: IdbPaymentAccount;
  private readonly sync: ConversationSync | undefined;

  /** With `host`, what the tab shows follows what other tabs of this browser save (conversation-sync.ts). */
  constructor(
    private readonly db: SilkDb,
    host?: ConversationHost,
  ) {
    this.settings = new KvEntry(db, "client.settings");
    this.sessionSecret = new KvEntry(db, "client.session-key");
    this.account = new IdbPaymentAccount(db);
    this.sync = host && new ConversationSync(host, (id) => this.conversation(id));
  }

  /** The Ed25519 key that signs receipts: made once in this browser, authorised in the escrow. */
  async sessionKey(): Promise<KeyPair> {
    const secret = await this.sessionSecret.get();
    if (secret) return keyPairFromSecret(new Uint8Array(secret));
    const pair = generateKeyPair();
    await this.sessionSecret.set(pair.secretKey);
    return pair;
  }

  async conversations(): Promise<Conversation[]> {
    const rows = (await this.db.getAll("conversations")) as unknown as ConversationRecord[];
    return rows.map(fromRecord).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  async conversation(id: string): Promise<Conversation | undefined> {
    const row = await this.db.get("conversations", id);
    return row && fromRecord(row as unknown as ConversationRecord);
  }

  /**
   * Writes `c` merged with the stored copy, in one transaction: another tab may have added to the
   * same conversation since this tab read it, and its messages must stay (conversation-merge.ts).
   */
  async save(c: Conversation): Promise<void> {
    const tx = this.db.transaction("conversations", "readwrite");
    const row = await tx.store.get(c.id);
    const kept = row ? mergeConversation(c, fromRecord(row as unknown as ConversationRecord)) : c;
    await tx.store.put(toRecord(kept) as never);
    await tx.done;
    this.sync?.adopt(kept);
    this.sync?.saved(c.id);
  }

  /**
   * Saves the conversations of an export file (replacing ones with the same id); returns `shown`
   * with them in, newest first, and how many were added and replaced.
   */
  async importText(
    text: string,
    shown: readonly Conversation[],
  ): Promise<{ conversations: Conversation[]; added: number; replaced: number }> {
    const incoming = importConversations(text);
    for (const c of incoming) await this.save(c);
    const ids = new Set(incoming.map((c) => c.id));
    const replaced = shown.filter((c) => ids.has(c.id)).length;
    const conversations = [...incoming, ...shown.filter((c) => !ids.has(c.id))].sort(
      (a, b) => b.updatedAt - a.updatedAt,
    );
    return { conversations, added: ids.size - replaced, replaced };
  }

  async remove(id: string): Promise<void> {
    await this.db.delete("conversations", id);
    this.sync?.removed(id);
  }

  dispose(): void {
    this.sync?.dispose();
  }
}

/**
 * The requester's last signed receipt per stream (network, escrow, payout, key epoch), in IndexedDB: cumulative totals carry
 * on after a reload, so a provider is never asked to accept a receipt that went backwards.
 */
export class IdbPaymentAccount implements PaymentAccount {
  constructor(private readonly db: SilkDb) {}

  private key(stream: StreamKey): string {
    return `client|${streamId(stream)}`;
  }

  async last(stream: StreamKey): Promise<SignedReceipt | undefined> {
    const row = await this.db.get("receipts", this.key(stream));
    return row ? decodeSignedReceipt(row.text) : undefined;
  }

  async save(receipt: SignedReceipt): Promise<void> {
    const key = this.key(receipt.receipt);
    const tx = this.db.transaction("receipts", "readwrite");
    const row = await tx.store.get(key);
    const kept = pickNewer(row ? decodeSignedReceipt(row.text) : undefined, receipt);
    await tx.store.put({ key, text: encodeSignedReceipt(kept), at: Date.now() });
    await tx.done;
  }

  /** Everything signed so far, over all providers: what the escrow owes in total. */
  async totalSigned(): Promise<bigint> {
    const rows = await this.db.getAll("receipts");
    return rows
      .filter((r) => r.key.startsWith("client|"))
      .reduce((sum, r) => sum + decodeSignedReceipt(r.text).receipt.amount, 0n);
  }
}
