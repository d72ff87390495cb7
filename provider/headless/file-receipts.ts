import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Address } from "@ton/core";
import { decodeSignedReceipt, encodeSignedReceipt, pickNewer, type SignedReceipt } from "../../protocol";
import type { HeldReceipts } from "../serving/held-receipts";

/**
 * The headless provider's receipts, one JSON file of base64 receipts by escrow. Each `put`
 * writes a temporary file and renames it over the old one, so a crash leaves the old file or the
 * new one, never half of either; it returns only once the receipt is on disk.
 */
export class FileHeldReceipts implements HeldReceipts {
  private readonly byEscrow = new Map<string, SignedReceipt>();

  constructor(private readonly path: string) {
    if (!existsSync(path)) return;
    const stored = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    for (const [escrow, text] of Object.entries(stored)) this.byEscrow.set(escrow, decodeSignedReceipt(text));
  }

  async best(escrow: Address): Promise<SignedReceipt | undefined> {
    return this.byEscrow.get(escrow.toRawString());
  }

  async put(receipt: SignedReceipt): Promise<void> {
    const key = receipt.receipt.escrow.toRawString();
    this.byEscrow.set(key, pickNewer(this.byEscrow.get(key), receipt));
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const out = Object.fromEntries([...this.byEscrow].map(([k, r]) => [k, encodeSignedReceipt(r)]));
    writeFileSync(tmp, JSON.stringify(out, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  all(): SignedReceipt[] {
    return [...this.byEscrow.values()];
  }
}
