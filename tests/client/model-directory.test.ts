import { describe, expect, it } from "vitest";
import { ModelDirectory, toModelEntries } from "../../client/sdk/model-directory";
import { type DirectorySnapshot, flatPrice, priceFits } from "../../protocol";

const snapshot = (providers: number): DirectorySnapshot => ({
  v: 1,
  providers,
  models: [
    { model: "m", providers, capacity: providers, inUse: 0, prices: [{ price: flatPrice(5n), providers }] },
  ],
});

/** A directory source that counts what is asked of it, as the signaling server would see it. */
function source() {
  const s = {
    calls: 0,
    fail: false,
    push: (_d: DirectorySnapshot) => {},
    async directory(onUpdate?: (d: DirectorySnapshot) => void) {
      s.calls++;
      if (onUpdate) s.push = onUpdate;
      await new Promise((r) => setTimeout(r, 10));
      if (s.fail) throw new Error("rate limited");
      return snapshot(1);
    },
  };
  return s;
}

describe("the SDK's model list from a subscribed directory", () => {
  it("answers a thousand concurrent calls with one request, then from pushed updates", async () => {
    const src = source();
    const dir = new ModelDirectory(src);
    const lists = await Promise.all(Array.from({ length: 1000 }, () => dir.list()));
    expect(src.calls).toBe(1);
    expect(lists.every((l) => l.data[0]?.providers === 1)).toBe(true);
    src.push(snapshot(2));
    expect((await dir.list()).data[0]).toMatchObject({
      id: "m",
      providers: 2,
      price: { completion_nanoton: "5" },
    });
    expect(src.calls).toBe(1);
  });

  it("names a fractional price rounded up, so the price it shows, given back as maxPrice, is accepted", () => {
    // 3 nanoTON at 1.5x and 0.5x: 4.5 a completion token, 1.5 a prompt token.
    const price = { nanoPerToken: 3n, promptMultiplierBps: 5_000, completionMultiplierBps: 15_000 };
    const dir: DirectorySnapshot = {
      v: 1,
      providers: 1,
      models: [{ model: "m", providers: 1, capacity: 1, inUse: 0, prices: [{ price, providers: 1 }] }],
    };
    const shown = toModelEntries(dir, 0)[0]?.price;
    expect(shown).toEqual({ prompt_nanoton: "2", completion_nanoton: "5" });
    const asked = {
      promptNanoPerToken: BigInt(shown?.prompt_nanoton ?? 0),
      completionNanoPerToken: BigInt(shown?.completion_nanoton ?? 0),
    };
    expect(priceFits(price, asked)).toBe(true);
  });

  it("refetches a stale snapshot once, and serves the stale one if that fails", async () => {
    const src = source();
    let now = 0;
    const dir = new ModelDirectory(src, 60_000, () => now);
    await dir.list();
    now = 61_000;
    src.fail = true;
    expect((await dir.list()).data[0]?.providers).toBe(1);
    expect(src.calls).toBe(2);
    const fresh = new ModelDirectory(source());
    const failing = source();
    failing.fail = true;
    await expect(new ModelDirectory(failing).list()).rejects.toThrow(/rate limited/);
    expect((await fresh.list()).object).toBe("list");
  });
});
