import { randomBytes } from "node:crypto";
import { createClient } from "redis";
import { afterAll, describe, expect, it } from "vitest";
import type { PickRequest } from "../../signaling/directory/directory";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { RefusalMemo } from "../../signaling/directory/refusal-memo";
import { flat, providerState } from "./helpers";
import { useRedis } from "./redis-fixture";

const redis = useRedis();

const ask = (now: number, max: bigint, exclude: string[] = [], model = "m1"): PickRequest => ({
  model,
  maxPrice: { promptNanoPerToken: max, completionNanoPerToken: max },
  exclude: new Set(exclude),
  now,
  failureWindowMs: 1000,
});
const cost = (nano: bigint) => nano * 10_000n;

describe("RefusalMemo (pure)", () => {
  it.each([
    // [what Redis said, to which request, the next request, what the memo answers]
    ["NO_MODEL", ask(0, 5n), ask(10, 99n, ["x"]), "NO_MODEL"],
    ["PRICE_TOO_LOW", ask(0, 5n), ask(10, 6n), "PRICE_TOO_LOW"],
    // At or over the floor: someone might fit; only Redis knows.
    ["PRICE_TOO_LOW", ask(0, 5n), ask(10, 7n), undefined],
    // Excluded providers change who is cheapest: Redis is asked.
    ["PRICE_TOO_LOW", ask(0, 5n), ask(10, 6n, ["x"]), undefined],
    // Learnt only from requests that excluded nobody.
    ["NO_MODEL", ask(0, 5n, ["x"]), ask(10, 5n), undefined],
    // Past its life, asked again.
    ["NO_MODEL", ask(0, 5n), ask(100, 5n), undefined],
    // Another model.
    ["NO_MODEL", ask(0, 5n), ask(10, 5n, [], "m2"), undefined],
  ] as const)("%s to %o, then %o: %s", (code, first, next, expected) => {
    const memo = new RefusalMemo(100);
    memo.learn(first, memo.epoch(), code, code === "PRICE_TOO_LOW" ? cost(7n) : undefined);
    expect(memo.answer(next)?.code).toBe(expected);
  });

  it("a registration forgets its models, and a reply that crossed one is not kept", () => {
    const memo = new RefusalMemo(1000);
    memo.learn(ask(0, 5n), memo.epoch(), "NO_MODEL", undefined);
    memo.announce(["m1"]);
    expect(memo.answer(ask(1, 5n))).toBeUndefined();
    const asked = memo.epoch();
    memo.announce(["m9"]);
    memo.learn(ask(2, 5n), asked, "NO_MODEL", undefined);
    expect(memo.answer(ask(3, 5n))).toBeUndefined();
    // The cheapest price is named as Redis named it.
    memo.learn(ask(4, 5n), memo.epoch(), "PRICE_TOO_LOW", cost(7n));
    expect(memo.answer(ask(5, 6n))?.message).toMatch(/cheapest asks 7 nanoTON/);
  });
});

describe("RedisDirectory refusals from the memo, two nodes on one Redis", () => {
  const subscribers: { close(): Promise<unknown> }[] = [];
  afterAll(async () => {
    for (const s of subscribers) await s.close();
  });
  const node = async (prefix: string, counts: Map<string, number>) => {
    const dir = new RedisDirectory(redis.client, {
      prefix,
      entryTtlMs: 60_000,
      onCommand: (op) => counts.set(op, (counts.get(op) ?? 0) + 1),
    });
    const sub = createClient({ url: redis.url });
    await sub.connect();
    subscribers.push(sub);
    await dir.listen((channel, listener) => sub.subscribe(channel, listener), 60_000);
    return dir;
  };

  it("answers repeated refusals without Redis, and never refuses a provider that registered elsewhere", async () => {
    const prefix = `r${randomBytes(4).toString("hex")}:`;
    const counts = new Map<string, number>();
    const a = await node(prefix, counts);
    const b = await node(prefix, new Map());
    const draft = { requesterSocketId: "r", requesterNode: "na" };
    await b.register({ ...providerState("p1", { price: flat(8n), capacity: 2 }), node: "nb" }, 1);

    // Learnt once from Redis, then answered locally: no more pairing commands.
    expect((await a.reserveBest(ask(2, 5n), draft)).ok).toBe(false);
    expect((await a.reserveBest(ask(2, 1n, [], "m2"), draft)).ok).toBe(false);
    counts.clear();
    for (let i = 0; i < 5; i++) {
      expect(await a.reserveBest(ask(3, 5n), draft)).toMatchObject({ code: "PRICE_TOO_LOW" });
      expect(await a.reserveBest(ask(3, 1n, [], "m2"), draft)).toMatchObject({ code: "NO_MODEL" });
    }
    expect(counts.get("pair") ?? 0).toBe(0);

    // A cheaper provider of m1 and one of m2 register on the other node: the next requests are granted.
    await b.register({ ...providerState("p2", { price: flat(3n), capacity: 2 }), node: "nb" }, 4);
    await b.register(
      { ...providerState("p3", { model: "m2", price: flat(1n), capacity: 2 }), node: "nb" },
      4,
    );
    expect(await a.reserveBest(ask(5, 5n), draft)).toMatchObject({
      ok: true,
      provider: { identityKey: "p2" },
    });
    expect(await a.reserveBest(ask(5, 1n, [], "m2"), draft)).toMatchObject({
      ok: true,
      provider: { identityKey: "p3" },
    });
  });
});
