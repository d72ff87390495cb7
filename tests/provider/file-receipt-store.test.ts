import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { generateKeyPair, NETWORK_ID, ReceiptConflictError, signReceipt, streamId } from "../../protocol";
import { FileReceiptStore } from "../../provider/headless/file-receipt-store";
import { latestReceipt } from "../../provider/receipt-store";

const key = generateKeyPair();
const base = {
  network: NETWORK_ID.devnet,
  escrow: Address.parse(`0:${"11".repeat(32)}`),
  payout: Address.parse(`0:${"22".repeat(32)}`),
  keyEpoch: 1,
};

describe("the headless provider's file receipt store", () => {
  it("keeps the newest receipt per stream across restarts, and what was claimed", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "silk-receipts-")), "receipts.json");
    const store = new FileReceiptStore(path);
    expect(await store.put(signReceipt({ ...base, tokens: 10n, amount: 100n }, key))).toBe("stored");
    expect(await store.put(signReceipt({ ...base, tokens: 20n, amount: 200n }, key))).toBe("stored");
    expect(await store.put(signReceipt({ ...base, tokens: 15n, amount: 150n }, key))).toBe("older");
    await store.setClaimed(streamId(base), 100n);
    await expect(store.put(signReceipt({ ...base, tokens: 30n, amount: 1n }, key))).rejects.toBeInstanceOf(
      ReceiptConflictError,
    );

    const reopened = new FileReceiptStore(path);
    const record = await reopened.get(streamId(base));
    expect(latestReceipt(record!).receipt.amount).toBe(200n);
    expect(record?.claimed).toBe(100n);
    expect(readFileSync(path, "utf8")).not.toContain(key.secretKey.toString());
  });

  it("refuses a damaged file with a clear error instead of starting half-empty", () => {
    const path = join(mkdtempSync(join(tmpdir(), "silk-receipts-")), "receipts.json");
    writeFileSync(path, '{"x": {"latest": "not a receipt", "claimed": "0", "updatedAt": 1}}');
    expect(() => new FileReceiptStore(path)).toThrow(/receipts file .* is damaged/);
    writeFileSync(path, "{ truncated");
    expect(() => new FileReceiptStore(path)).toThrow(/is damaged/);
  });
});
