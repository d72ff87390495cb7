import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NodeLiveness } from "../../signaling/node-liveness";
import { useRedis } from "./redis-fixture";

const redis = useRedis();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("node liveness", () => {
  it("tells a node it was forgotten only when it was: not for renewing late, yes when taken for dead or Redis emptied", async () => {
    const prefix = `l${randomBytes(4).toString("hex")}:`;
    const a = new NodeLiveness(redis.client, prefix, "a", 100);
    const b = new NodeLiveness(redis.client, prefix, "b", 60_000);
    await a.beat();
    await b.beat();
    // A renews late (its key expired) and nobody noticed: its state is intact.
    await sleep(200);
    expect((await a.beat()).stateLost).toBe(false);
    // Late again, and this time B noticed and forgot A (dropping A's providers): A must know.
    await sleep(200);
    expect((await b.beat()).dead).toEqual(["a"]);
    expect((await a.beat()).stateLost).toBe(true);
    expect((await a.beat()).stateLost).toBe(false);
    // Redis emptied: both know.
    await redis.client.flushAll();
    expect((await b.beat()).stateLost).toBe(true);
    expect((await a.beat()).stateLost).toBe(true);
  });
});
