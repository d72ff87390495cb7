import { crc32 } from "node:zlib";
import { decodeSignedReceipt, streamId } from "../../protocol";
import type { ClaimRecord, StreamRecord } from "../receipt-store";

/**
 * The receipt log's lines: one whole stream record per line, `CRC32 JSON\n`, the CRC (8 hex
 * digits) over the JSON. Replaying the lines in order and keeping the last per stream gives the
 * store back. A line is trusted only if its CRC matches, its JSON has every field, and its id is
 * the stream id of the receipt it holds: a torn or garbled line is skipped, never half-read.
 */
export function encodeLogLine(r: StreamRecord): string {
  const json = JSON.stringify({
    id: r.id,
    latest: r.latest,
    claimed: r.claimed.toString(),
    at: r.updatedAt,
    ...(r.payable ? { payable: r.payable } : {}),
    ...(r.heldSince !== undefined ? { heldSince: r.heldSince } : {}),
    ...(r.claims?.length
      ? { claims: r.claims.map((c) => ({ ...c, amount: c.amount.toString(), fee: c.fee.toString() })) }
      : {}),
  });
  return `${crcHex(json)} ${json}\n`;
}

export interface ParsedLog {
  /** The last whole record of each stream, in the order streams first appeared. */
  readonly records: StreamRecord[];
  /** Whole lines read, valid or not. */
  readonly lines: number;
  /** Whole lines that failed their check (garbled in place). */
  readonly damaged: number;
  /** Bytes after the last newline: a record cut off by a crash mid-write. */
  readonly tornBytes: number;
  /** Length in bytes of the file up to its last newline. */
  readonly wholeBytes: number;
}

export function parseLog(bytes: Uint8Array): ParsedLog {
  const end = bytes.lastIndexOf(NEWLINE) + 1;
  const streams = new Map<string, StreamRecord>();
  let lines = 0;
  let damaged = 0;
  for (const line of Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("utf8").split("\n")) {
    if (line === "") continue;
    lines++;
    const record = decodeLogLine(line);
    if (record) streams.set(record.id, record);
    else damaged++;
  }
  return {
    records: [...streams.values()],
    lines,
    damaged,
    tornBytes: bytes.length - end,
    wholeBytes: end,
  };
}

const NEWLINE = 10;

function decodeLogLine(line: string): StreamRecord | undefined {
  const space = line.indexOf(" ");
  const json = line.slice(space + 1);
  if (space !== 8 || line.slice(0, 8) !== crcHex(json)) return undefined;
  try {
    const v = JSON.parse(json) as Record<string, unknown>;
    const { id, latest, claimed, at } = v;
    if (typeof id !== "string" || typeof latest !== "string") return undefined;
    if (typeof claimed !== "string" || !/^[0-9]+$/.test(claimed)) return undefined;
    if (typeof at !== "number" || !Number.isFinite(at)) return undefined;
    if (streamId(decodeSignedReceipt(latest).receipt) !== id) return undefined;
    const { payable, heldSince } = v;
    if (
      payable !== undefined &&
      (typeof payable !== "string" || streamId(decodeSignedReceipt(payable).receipt) !== id)
    )
      return undefined;
    if (heldSince !== undefined && (typeof heldSince !== "number" || !Number.isFinite(heldSince)))
      return undefined;
    const claims = claimsOf(v.claims);
    if (claims === null) return undefined;
    return {
      id,
      latest,
      claimed: BigInt(claimed),
      updatedAt: at,
      ...(payable !== undefined ? { payable } : {}),
      ...(heldSince !== undefined ? { heldSince } : {}),
      ...(claims ? { claims } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The claim records of a line: undefined when there are none, null when they are malformed. */
function claimsOf(v: unknown): ClaimRecord[] | undefined | null {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) return null;
  const out: ClaimRecord[] = [];
  for (const c of v as Record<string, unknown>[]) {
    const { at, amount, fee, reason, tx } = c ?? {};
    if (typeof at !== "number" || typeof reason !== "string") return null;
    if (typeof amount !== "string" || !/^[0-9]+$/.test(amount)) return null;
    if (typeof fee !== "string" || !/^[0-9]+$/.test(fee)) return null;
    if (tx !== undefined && (typeof tx !== "string" || !/^[0-9a-f]{64}$/.test(tx))) return null;
    out.push({ at, amount: BigInt(amount), fee: BigInt(fee), reason, ...(tx !== undefined && { tx }) });
  }
  return out;
}

function crcHex(text: string): string {
  return crc32(text).toString(16).padStart(8, "0");
}
