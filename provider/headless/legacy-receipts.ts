import { decodeSignedReceipt, streamId } from "../../protocol";
import type { StreamRecord } from "../receipt-store";

/**
 * Reads the JSON file the headless provider kept receipts in before the log
 * (`{"<stream id>": {"latest", "claimed", "updatedAt"}, …}`, rewritten whole on every receipt).
 * Entries are matched one by one rather than parsed as one document, so a file cut short or
 * garbled in one place still gives back every entry that is whole; each is checked against its
 * receipt before it is trusted.
 */
const ENTRY =
  /"([^"\\]{1,300})"\s*:\s*\{\s*"latest"\s*:\s*"([A-Za-z0-9+/=]{1,600})"\s*,\s*"claimed"\s*:\s*"([0-9]{1,40})"\s*,\s*"updatedAt"\s*:\s*([0-9]{1,16})\s*\}/g;

export function isLegacyReceipts(text: string): boolean {
  return text.trimStart().startsWith("{");
}

export function readLegacyReceipts(text: string): { records: StreamRecord[]; damaged: number } {
  const records: StreamRecord[] = [];
  let damaged = 0;
  for (const [, id, latest, claimed, at] of text.matchAll(ENTRY)) {
    try {
      if (streamId(decodeSignedReceipt(latest!).receipt) !== id) throw new Error("id mismatch");
      records.push({ id: id!, latest: latest!, claimed: BigInt(claimed!), updatedAt: Number(at) });
    } catch {
      damaged++;
    }
  }
  // Entries the pattern could not match at all (cut or garbled) are counted by their "latest" keys.
  damaged += Math.max(0, (text.match(/"latest"/g)?.length ?? 0) - records.length - damaged);
  return { records, damaged };
}
