import { close, constants, fdatasync, ftruncate, open, rename, write } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import type { SignedReceipt } from "../../protocol";
import { type ClaimRecord, MemoryReceiptStore, type ReceiptStore, type StreamRecord } from "../receipt-store";
import { encodeLogLine } from "./receipt-log-format";
import { fsyncDir, openReceiptLog, type ReceiptLogOptions } from "./receipt-log-open";

const writeAsync = promisify(write);
const datasyncAsync = promisify(fdatasync);
const openAsync = promisify(open);
const closeAsync = promisify(close);
const renameAsync = promisify(rename);
const truncateAsync = promisify(ftruncate);
/** The compacted log is written through the descriptor it is then appended to (no reopening). */
const NEW_LOG = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND;

/**
 * The headless provider's receipts: the rules of `MemoryReceiptStore` in memory, and every changed
 * stream record appended to a log that is fsynced before `put` or `setClaimed` resolves. Appends
 * cost the same whether the log holds one stream or 100,000 (the JSON file this replaces rewrote
 * everything on every receipt), and receipts that arrive while a sync is under way go to disk
 * together in the next one. The log is rewritten with one line per stream (compacted) once it
 * holds more than twice as many lines as streams, so it stays within a small multiple of its
 * content. Kill -9 at any instant loses nothing acknowledged: a record is acknowledged after its
 * sync, a crash mid-write leaves at most one unfinished last line, which opening drops.
 */
export class ReceiptLogStore implements ReceiptStore {
  private queue: { line: string; done: (err?: Error) => void }[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly path: string,
    private fd: number,
    private readonly memory: MemoryReceiptStore,
    /** Lines in the log file now, and its length in bytes. */
    private lines: number,
    private size: number,
    private readonly compactAfter: number,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Opens the log at `path`, recovering it if it was damaged and importing the older JSON file
   * (`legacyFile`, or `path` itself when it holds JSON) on first use. Never refuses to start on
   * a damaged file: it says what it recovered through `warn`.
   */
  static open(path: string, opts: ReceiptLogOptions = {}): ReceiptLogStore {
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    const now = opts.now ?? Date.now;
    const log = openReceiptLog(path, { ...opts, warn, now });
    return new ReceiptLogStore(
      path,
      log.fd,
      new MemoryReceiptStore(now, log.records),
      log.lines,
      log.size,
      opts.compactAfter ?? DEFAULT_COMPACT_AFTER,
      warn,
    );
  }

  async put(signed: SignedReceipt, payable = true): Promise<"stored" | "older"> {
    const changed = this.memory.apply(signed, payable);
    if (changed === "older") return "older";
    await this.append(changed);
    return "stored";
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    return this.memory.get(id);
  }

  async list(): Promise<StreamRecord[]> {
    return this.memory.list();
  }

  async setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void> {
    const changed = this.memory.applyClaimed(id, claimed, claim);
    if (changed) await this.append(changed);
  }

  /** Waits for every write asked for, then closes the file; later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    await closeAsync(this.fd);
  }

  private append(record: StreamRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the receipts log ${this.path} is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ line: encodeLogLine(record), done: (err) => (err ? reject(err) : resolve()) });
      this.writing ??= this.drain().finally(() => {
        this.writing = undefined;
      });
    });
  }

  /** Writes and syncs everything queued, batch after batch, compacting between batches. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const bytes = Buffer.from(batch.map((b) => b.line).join(""));
      try {
        for (let at = 0; at < bytes.length; ) at += (await writeAsync(this.fd, bytes, at)).bytesWritten;
        await datasyncAsync(this.fd);
      } catch (cause) {
        await this.undoPartialWrite();
        const err = new Error(`could not write the receipts log ${this.path}`, { cause });
        for (const b of batch) b.done(err);
        continue;
      }
      this.size += bytes.length;
      this.lines += batch.length;
      for (const b of batch) b.done();
      if (this.lines >= Math.max(this.compactAfter, 2 * this.memory.size)) await this.compact();
    }
  }

  /** A failed write may have left part of a line: cut it, so the next line starts whole. */
  private async undoPartialWrite(): Promise<void> {
    try {
      await truncateAsync(this.fd, this.size);
    } catch {
      // Left as it is: opening skips a line that fails its check.
    }
  }

  /**
   * Rewrites the log as one line per stream: written and synced to a new file that is then
   * renamed over the log, so a crash at any point leaves the old log or the new one, both whole.
   */
  private async compact(): Promise<void> {
    const records = this.memory.snapshot();
    const bytes = Buffer.from(records.map(encodeLogLine).join(""));
    const tmp = `${this.path}.compacting`;
    let fd: number | undefined;
    try {
      fd = await openAsync(tmp, NEW_LOG, 0o600);
      for (let at = 0; at < bytes.length; ) at += (await writeAsync(fd, bytes, at)).bytesWritten;
      await datasyncAsync(fd);
      await renameAsync(tmp, this.path);
    } catch (err) {
      if (fd !== undefined) await closeAsync(fd).catch(() => undefined);
      this.warn(
        `could not compact the receipts log ${this.path} (${err instanceof Error ? err.message : String(err)}); appending to it as it is`,
      );
      return;
    }
    // The log is now the new file: appends go to it. The folder is synced before anything more
    // is acknowledged, so a power cut cannot bring back the old file without them.
    const old = this.fd;
    this.fd = fd;
    this.lines = records.length;
    this.size = bytes.length;
    await closeAsync(old).catch(() => undefined);
    await fsyncDir(dirname(this.path)).catch((err: unknown) =>
      this.warn(
        `could not sync the folder of ${this.path}: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
  }
}

/** Lines before the first compaction is considered: small logs are never rewritten. */
export const DEFAULT_COMPACT_AFTER = 10_000;
