import {
  close as closeCallback,
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  fsync as fsyncCallback,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  open as openCallback,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import type { StreamRecord } from "../receipt-store";
import { isLegacyReceipts, readLegacyReceipts } from "./legacy-receipts";
import { encodeLogLine, parseLog } from "./receipt-log-format";

export interface ReceiptLogOptions {
  /** The JSON file an older version kept receipts in, imported when the log does not exist yet. */
  readonly legacyFile?: string;
  /** Lines in the log before it may be compacted (it is, once also twice its streams). */
  readonly compactAfter?: number;
  /** Where recovery and migration say what they did (console.warn by default). */
  readonly warn?: (message: string) => void;
  readonly now?: () => number;
}

export interface OpenedLog {
  readonly fd: number;
  readonly records: StreamRecord[];
  readonly lines: number;
  readonly size: number;
}

/**
 * Opens the receipt log for appending, after making it whole: a log cut short by a crash loses
 * its unfinished last line; a log garbled in place keeps the last whole record of each stream and
 * is rewritten clean, the damaged file kept beside it; a JSON file from an older version is
 * imported (kept beside it too). What was done is said through `warn`; starting is never refused.
 */
export function openReceiptLog(
  path: string,
  opts: ReceiptLogOptions & { warn: (m: string) => void; now: () => number },
): OpenedLog {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const { warn } = opts;
  let records: StreamRecord[] = [];
  let lines = 0;
  let rewrite = false;
  const bytes = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  if (bytes.length > 0) {
    if (isLegacyReceipts(bytes.toString("utf8"))) {
      const backup = `${path}.json-backup`;
      copyFileSync(path, backup);
      records = importLegacy(bytes.toString("utf8"), path, backup, warn);
      rewrite = true;
    } else {
      const log = parseLog(bytes);
      records = log.records;
      lines = log.lines;
      if (log.damaged > 0) {
        const backup = `${path}.damaged-${opts.now()}`;
        copyFileSync(path, backup);
        warn(
          `the receipts log ${path} had ${log.damaged} damaged record(s) of ${log.lines}: kept the last whole record of each of its ${records.length} stream(s), and the damaged file as ${backup}`,
        );
        rewrite = true;
      }
      if (log.tornBytes > 0) {
        warn(
          `the receipts log ${path} ended in an unfinished record (${log.tornBytes} bytes cut off by a crash while writing, never acknowledged): dropped it`,
        );
        if (!rewrite) truncateFile(path, log.wholeBytes);
      }
      if (log.lines >= Math.max(opts.compactAfter ?? 10_000, 2 * records.length)) rewrite = true;
    }
  } else if (opts.legacyFile && existsSync(opts.legacyFile)) {
    const migrated = `${opts.legacyFile}.migrated`;
    records = importLegacy(readFileSync(opts.legacyFile, "utf8"), opts.legacyFile, migrated, warn);
    writeWhole(path, records);
    lines = records.length;
    renameSync(opts.legacyFile, migrated);
    fsyncDirSync(dirname(opts.legacyFile));
  }
  if (rewrite) {
    writeWhole(path, records);
    lines = records.length;
  }
  const created = !existsSync(path);
  const fd = openSync(path, "a", 0o600);
  if (created) fsyncDirSync(dirname(path));
  return { fd, records, lines, size: fstatSync(fd).size };
}

function importLegacy(text: string, from: string, keptAs: string, warn: (m: string) => void): StreamRecord[] {
  const { records, damaged } = readLegacyReceipts(text);
  warn(
    `imported ${records.length} receipt stream(s) from the JSON receipts file ${from} into the append-only log` +
      (damaged > 0 ? ` (${damaged} damaged entr${damaged === 1 ? "y" : "ies"} could not be read)` : "") +
      `; the JSON file is kept as ${keptAs}`,
  );
  return records;
}

/** Writes the log whole through a synced temporary file renamed over it. */
function writeWhole(path: string, records: readonly StreamRecord[]): void {
  const tmp = `${path}.compacting`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeFileSync(fd, records.map(encodeLogLine).join(""));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}

function truncateFile(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A new or renamed file is durable only once its folder is synced too. */
function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const openAsync = promisify(openCallback);
const fsyncAsync = promisify(fsyncCallback);
const closeAsync = promisify(closeCallback);

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, "r");
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}
