/**
 * A child process for the kill -9 test: writes receipts through the real `ReceiptLogStore` on
 * `streams` streams at once, as fast as the log takes them, and prints `ack STREAM TOKENS` for
 * each receipt only after its `put` resolved (stdout to a pipe is synchronous in Node, so an
 * ack printed is an ack the parent will read). Runs until it is killed.
 * Usage: node --import tsx receipt-writer-child.ts LOG STREAMS COMPACT_AFTER
 */
import { writeSync } from "node:fs";
import { streamId } from "../../protocol";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import { latestReceipt } from "../../provider/receipt-store";
import { generateKeyPair, receiptOn } from "./receipt-streams";

const [path, streamsText, compactText] = process.argv.slice(2);
const store = ReceiptLogStore.open(path!, {
  compactAfter: Number(compactText),
  warn: (m) => writeSync(2, `${m}\n`),
});
const key = generateKeyPair();
const streams = Number(streamsText);

async function writeStream(stream: number): Promise<never> {
  const held = await store.get(streamId(receiptOn(stream, 1, key).receipt));
  let tokens = held ? Number(latestReceipt(held).receipt.tokens) : 0;
  for (;;) {
    tokens += 1 + Math.floor(Math.random() * 5);
    await store.put(receiptOn(stream, tokens, key));
    writeSync(1, `ack ${stream} ${tokens}\n`);
  }
}

writeSync(1, "ready\n");
await Promise.all(Array.from({ length: streams }, (_, s) => writeStream(s)));
