// Test-only page: the provider page's real IndexedDB receipt store, written as fast as it takes
// receipts on several streams at once, for the crash test. Never part of the production build.
import "../../../peer/browser-globals";
import { generateKeyPair, streamId } from "../../../protocol";
import { IdbReceiptStore } from "../../../provider/page/provider-storage";
import { latestReceipt } from "../../../provider/receipt-store";
import { openSilkDb } from "../../../web/page-db";
import { receiptOn } from "../../provider/receipt-streams";

type Harness = Window & {
  /** Set by the test (Playwright's exposeFunction): told of each receipt once its put resolved. */
  silkAck?: (stream: number, tokens: number) => Promise<void>;
  silkReceipts?: unknown;
};

const store = new IdbReceiptStore(await openSilkDb());
const key = generateKeyPair();
const idOf = (stream: number) => streamId(receiptOn(stream, 1, key).receipt);
const w = window as Harness;

async function tokensHeld(stream: number): Promise<number> {
  const record = await store.get(idOf(stream));
  return record ? Number(latestReceipt(record).receipt.tokens) : 0;
}

w.silkReceipts = {
  /** Writes receipts on `streams` streams, each continuing from what is held, until the tab dies. */
  write(streams: number): void {
    for (let s = 0; s < streams; s++) {
      void (async () => {
        for (let tokens = await tokensHeld(s); ; ) {
          tokens += 1 + Math.floor(Math.random() * 5);
          await store.put(receiptOn(s, tokens, key));
          void w.silkAck?.(s, tokens);
        }
      })();
    }
  },
  /** Tokens of the newest receipt held per stream. */
  async held(streams: number): Promise<number[]> {
    return Promise.all(Array.from({ length: streams }, (_, s) => tokensHeld(s)));
  },
};
document.body.dataset.ready = "true";
