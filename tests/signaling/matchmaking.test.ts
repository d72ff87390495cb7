import { describe, expect, it } from "vitest";
import type { ModelPrice } from "../../protocol";
import { type PairingRequest, rankProviders } from "../../signaling/matchmaking";
import { flat, providerState } from "./helpers";

const p = providerState;

const req = (max = 100n, exclude: string[] = [], model = "m1"): PairingRequest => ({
  model,
  maxPrice: { promptNanoPerToken: max, completionNanoPerToken: max },
  exclude: new Set(exclude),
});
const opts = { now: 1_000_000, failureWindowMs: 60_000, limit: 4 };
const order = (r: ReturnType<typeof rankProviders>) =>
  r.ok ? r.candidates.map((c) => c.provider.identityKey) : r.code;

describe("matchmaking policy", () => {
  it("explains an empty result: no model, price too low (naming the floor), all busy", () => {
    expect(order(rankProviders([], req(), opts))).toBe("NO_MODEL");
    expect(order(rankProviders([p("a", { model: "other" })], req(), opts))).toBe("NO_MODEL");
    const low = rankProviders([p("a", { price: flat(30n) }), p("b", { price: flat(20n) })], req(19n), opts);
    expect(low).toMatchObject({ ok: false, code: "PRICE_TOO_LOW" });
    if (!low.ok) expect(low.message).toContain("20 nanoTON");
    expect(order(rankProviders([p("a", { active: 1 }), p("b", { load: 1 })], req(), opts))).toBe("ALL_BUSY");
    // Busy at an acceptable price beats "too cheap" elsewhere: retrying can help.
    expect(order(rankProviders([p("a", { active: 1 }), p("b", { price: flat(500n) })], req(), opts))).toBe(
      "ALL_BUSY",
    );
  });

  it("names a fractional cheapest price as the lowest maximum that is then granted", () => {
    // 3 nanoTON at 1.5x: 4.5 a completion token.
    const price: ModelPrice = {
      nanoPerToken: 3n,
      promptMultiplierBps: 10_000,
      completionMultiplierBps: 15_000,
    };
    const low = rankProviders([p("a", { price })], req(4n), opts);
    expect(low).toMatchObject({ ok: false, code: "PRICE_TOO_LOW" });
    if (!low.ok) expect(low.message).toMatch(/the cheapest asks 5 nanoTON per completion token$/);
    expect(rankProviders([p("a", { price })], req(5n), opts)).toMatchObject({ ok: true });
  });

  it("treats excluded providers as absent", () => {
    expect(order(rankProviders([p("a")], req(100n, ["a"]), opts))).toBe("NO_MODEL");
    expect(order(rankProviders([p("a"), p("b")], req(100n, ["a"]), opts))).toEqual(["b"]);
  });

  it("checks prompt and completion prices separately", () => {
    const dearPrompt: ModelPrice = {
      nanoPerToken: 10n,
      promptMultiplierBps: 30_000,
      completionMultiplierBps: 10_000,
    };
    const r = {
      model: "m1",
      maxPrice: { promptNanoPerToken: 20n, completionNanoPerToken: 100n },
      exclude: new Set<string>(),
    };
    expect(order(rankProviders([p("a", { price: dearPrompt })], r, opts))).toBe("PRICE_TOO_LOW");
  });

  it("orders cheapest first, then least utilised, then longest since last assignment", () => {
    const ranked = rankProviders(
      [
        p("dear", { price: flat(20n) }),
        p("half", { capacity: 2, active: 1 }),
        p("recent", { lastAssignedAt: 500 }),
        p("idle", { lastAssignedAt: 100 }),
      ],
      req(),
      opts,
    );
    expect(order(ranked)).toEqual(["idle", "recent", "half", "dear"]);
  });

  it("puts providers with a recent failure last, fewest failures first; old failures are forgiven", () => {
    const ranked = rankProviders(
      [
        p("twice", { price: flat(1n), failures: 2, lastFailureAt: opts.now - 1000 }),
        p("once", { price: flat(1n), failures: 1, lastFailureAt: opts.now - 1000 }),
        p("long-ago", { price: flat(2n), failures: 9, lastFailureAt: opts.now - 120_000 }),
        p("clean", { price: flat(3n) }),
      ],
      req(),
      opts,
    );
    expect(order(ranked)).toEqual(["long-ago", "clean", "once", "twice"]);
  });

  it("returns at most `limit` candidates, the best ones, from many", () => {
    const many = Array.from({ length: 1000 }, (_, i) => p(`k${i}`, { price: flat(BigInt(1000 - i)) }));
    expect(order(rankProviders(many, req(5000n), { ...opts, limit: 3 }))).toEqual(["k999", "k998", "k997"]);
  });

  it("takes turns among equals: the one just assigned goes to the back", () => {
    const a = p("a", { capacity: 10 });
    const b = p("b", { capacity: 10, lastAssignedAt: 5 });
    expect(order(rankProviders([a, b], req(), opts))[0]).toBe("a");
    expect(order(rankProviders([{ ...a, lastAssignedAt: 6 }, b], req(), opts))[0]).toBe("b");
  });
});
