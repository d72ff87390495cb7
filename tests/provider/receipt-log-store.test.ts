import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeSignedReceipt, ReceiptConflictError, signReceipt, streamId } from "../../protocol";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import { latestReceipt, type ReceiptStore } from "../../provider/receipt-store";
import { generateKeyPair, receiptOn } from "./receipt-streams";

const key = generateKeyPair();
const idOf = (stream: number) => streamId(receiptOn(stream, 1, key).receipt);

function freshPath(): string {
  return join(mkdtempSync(join(tmpdir(), "silk-receipt-log-")), "receipts.log");
}

function open(path: string, opts: { legacyFile?: string; compactAfter?: number } = {}) {
  const warnings: string[] = [];
  const store = ReceiptLogStore.open(path, { ...opts, warn: (m) => warnings.push(m) });
  return { store, warnings };
}

async function tokensOf(store: ReceiptStore, stream: number): Promise<bigint | undefined> {
  const record = await store.get(idOf(stream));
  return record && latestReceipt(record).receipt.tokens;
}

describe("the headless provider's receipt log", () => {
  it("keeps the newest receipt per stream and what was claimed across reopening", async () => {
    const path = freshPath();
    const { store, warnings } = open(path);
    expect(await store.put(receiptOn(1, 10, key))).toBe("stored");
    expect(await store.put(receiptOn(1, 20, key))).toBe("stored");
    expect(await store.put(receiptOn(1, 15, key))).toBe("older");
    expect(await store.put(receiptOn(2, 5, key))).toBe("stored");
    await store.setClaimed(idOf(1), 100n);
    await store.setClaimed(idOf(1), 50n); // never lowered
    const conflicting = signReceipt({ ...receiptOn(1, 30, key).receipt, amount: 1n }, key); // more tokens, less pay
    await expect(store.put(conflicting)).rejects.toBeInstanceOf(ReceiptConflictError);
    await store.close();

    const reopened = open(path);
    expect(await tokensOf(reopened.store, 1)).toBe(20n);
    expect(await tokensOf(reopened.store, 2)).toBe(5n);
    expect((await reopened.store.get(idOf(1)))?.claimed).toBe(100n);
    expect(warnings).toEqual([]);
    expect(reopened.warnings).toEqual([]);
    expect(readFileSync(path, "utf8")).not.toContain(Buffer.from(key.secretKey).toString("base64"));
    await reopened.store.close();
  });

  it("keeps the last payable receipt beside a bad newest one, since when it is held, and every claim", async () => {
    const path = freshPath();
    const { store } = open(path);
    await store.put(receiptOn(1, 10, key));
    await store.put(receiptOn(1, 20, key), false); // more than the escrow could pay
    const tx = "9f".repeat(32);
    await store.setClaimed(idOf(1), 7n, { at: 5, amount: 7n, fee: 3n, reason: "escrow-closing", tx });
    const before = await store.get(idOf(1));
    await store.close();
    const reopened = open(path);
    const after = await reopened.store.get(idOf(1));
    expect(after).toEqual(before);
    expect(after?.payable).toBe(encodeSignedReceipt(receiptOn(1, 10, key)));
    expect(after?.heldSince).toEqual(expect.any(Number));
    expect(after?.claims).toEqual([{ at: 5, amount: 7n, fee: 3n, reason: "escrow-closing", tx }]);
    await reopened.store.close();
  });

  it("acknowledges a burst of concurrent receipts only once they are all on disk", async () => {
    const path = freshPath();
    const { store } = open(path);
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => store.put(receiptOn(i, 7, key))));
    expect(results.every((r) => r === "stored")).toBe(true);
    // Read back by a second opener without closing the first: what was acknowledged is in the file.
    const other = open(path);
    expect((await other.store.list()).length).toBe(300);
    await store.close();
    await other.store.close();
  });

  it("drops an unfinished last record cut off by a crash, says so, and appends cleanly after it", async () => {
    const path = freshPath();
    const first = open(path);
    await first.store.put(receiptOn(1, 10, key));
    await first.store.close();
    appendFileSync(path, '1a2b3c4d {"id":"devnet/0:ab'); // a write cut short

    const { store, warnings } = open(path);
    expect(warnings.join("\n")).toMatch(/ended in an unfinished record .* dropped it/);
    expect(await tokensOf(store, 1)).toBe(10n);
    await store.put(receiptOn(1, 11, key));
    await store.close();
    const again = open(path);
    expect(again.warnings).toEqual([]);
    expect(await tokensOf(again.store, 1)).toBe(11n);
    await again.store.close();
  });

  it("recovers a log garbled in place to the last whole record of each stream, keeping the damaged file", async () => {
    const path = freshPath();
    const { store } = open(path);
    for (const t of [10, 20, 30]) await store.put(receiptOn(1, t, key));
    await store.put(receiptOn(2, 5, key));
    await store.close();
    const lines = readFileSync(path, "utf8").split("\n");
    lines[2] = lines[2]!.replace(/"at":\d/, '"at":x'); // stream 1's newest record, garbled
    writeFileSync(path, lines.join("\n"));

    const reopened = open(path);
    expect(reopened.warnings.join("\n")).toMatch(
      /had 1 damaged record\(s\) of 4: kept the last whole record/,
    );
    expect(await tokensOf(reopened.store, 1)).toBe(20n);
    expect(await tokensOf(reopened.store, 2)).toBe(5n);
    const dir = join(path, "..");
    expect(readdirSync(dir).some((f) => f.startsWith("receipts.log.damaged-"))).toBe(true);
    await reopened.store.close();
    expect(open(path).warnings).toEqual([]); // rewritten clean
  });

  it("starts on a file of garbage with no streams rather than refusing to start", async () => {
    const path = freshPath();
    writeFileSync(path, "\u0000\u0001 not a log at all\nnor this\n");
    const { store, warnings } = open(path);
    expect(warnings.join("\n")).toMatch(/2 damaged record/);
    expect(await store.list()).toEqual([]);
    expect(await store.put(receiptOn(3, 1, key))).toBe("stored");
    await store.close();
  });

  it("imports the JSON file of the previous version once, keeping it aside, even cut short", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silk-receipt-log-"));
    const legacyFile = join(dir, "provider-receipts.json");
    const legacy: Record<string, unknown> = {};
    for (const s of [1, 2, 3])
      legacy[idOf(s)] = {
        latest: encodeSignedReceipt(receiptOn(s, s * 10, key)),
        claimed: String(s),
        updatedAt: 1_700_000_000_000,
      };
    const text = JSON.stringify(legacy, null, 2);
    writeFileSync(legacyFile, text.slice(0, text.length - 60)); // the last entry cut off

    const { store, warnings } = open(join(dir, "receipts.log"), { legacyFile });
    expect(warnings.join("\n")).toMatch(
      /imported 2 receipt stream\(s\) .* \(1 damaged entry could not be read\)/,
    );
    expect(await tokensOf(store, 2)).toBe(20n);
    expect((await store.get(idOf(2)))?.claimed).toBe(2n);
    expect(existsSync(legacyFile)).toBe(false);
    expect(existsSync(`${legacyFile}.migrated`)).toBe(true);
    await store.close();
    expect(open(join(dir, "receipts.log"), { legacyFile }).warnings).toEqual([]);

    // Pointed straight at an old JSON file, the store converts it in place.
    const inPlace = join(dir, "old.json");
    writeFileSync(inPlace, text);
    const converted = open(inPlace);
    expect(await tokensOf(converted.store, 3)).toBe(30n);
    expect(existsSync(`${inPlace}.json-backup`)).toBe(true);
    await converted.store.close();
  });

  it("compacts the log to one line per stream, and reopens to the same receipts", async () => {
    const path = freshPath();
    const { store } = open(path, { compactAfter: 50 });
    for (let t = 1; t <= 40; t++) await Promise.all([1, 2, 3, 4].map((s) => store.put(receiptOn(s, t, key))));
    await store.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n").length;
    expect(lines).toBeLessThan(50);
    const reopened = open(path, { compactAfter: 50 });
    for (const s of [1, 2, 3, 4]) expect(await tokensOf(reopened.store, s)).toBe(40n);
    await reopened.store.close();
  });
});
