import { describe, expect, it } from "vitest";
import type { ProviderDirectory, ProviderState } from "../../signaling/directory/directory";
import { DirectoryFeed, type DirectoryView } from "../../signaling/directory-feed";
import { createLogger } from "../../signaling/logger";
import { flat, providerState } from "./helpers";

/** A directory whose reads wait until the test lets them finish. */
function slowDirectory() {
  const reads: ((providers: ProviderState[]) => void)[] = [];
  const directory = {
    all: () => new Promise<ProviderState[]>((resolve) => reads.push(resolve)),
  } as unknown as ProviderDirectory;
  return { directory, reads };
}

const provider = providerState("a", { price: flat(1n) });

describe("directory feed", () => {
  it("publishes a change once, and after close neither a read in flight nor a new change publishes", async () => {
    const { directory, reads } = slowDirectory();
    const published: DirectoryView[] = [];
    const feed = new DirectoryFeed(directory, (v) => published.push(v), createLogger("silent"), 10, 60_000);
    feed.changed();
    feed.changed();
    await until(() => reads.length === 1);
    reads.shift()!([provider]);
    await until(() => published.length === 1);
    expect(published[0]).toMatchObject({ providers: 1 });

    // A read in flight when the node closes: close waits for it, and it publishes nothing.
    feed.changed();
    await until(() => reads.length === 1);
    let closed = false;
    const closing = feed.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    reads.shift()!([]);
    await closing;
    feed.changed();
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toHaveLength(0);
    expect(published).toHaveLength(1);
  });
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
