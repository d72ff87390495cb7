import { randomBytes } from "node:crypto";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { directorySuite } from "./directory-suite";
import { flat, PAYOUT } from "./helpers";
import { type RedisProcess, startRedis } from "./redis-server";

let redis: RedisProcess;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await redis?.stop();
});

// A fresh key prefix per test: the same real Redis, no state shared between tests.
directorySuite(
  "redis",
  async () =>
    new RedisDirectory(client, { prefix: `t${randomBytes(4).toString("hex")}:`, entryTtlMs: 60_000 }),
);

describe("Redis directory scripts", () => {
  it("still work after Redis forgets its cached scripts (restart or SCRIPT FLUSH)", async () => {
    const dir = new RedisDirectory(client, {
      prefix: `f${randomBytes(4).toString("hex")}:`,
      entryTtlMs: 60_000,
    });
    const record = {
      identityKey: "a",
      socketId: "s1",
      payout: PAYOUT,
      models: [{ model: "m1", price: flat(5n) }],
      capacity: 2,
      device: {},
      registeredAt: 1,
    };
    await dir.register(record, 1);
    expect(await dir.reserve("a", "s1", 2)).toBe(true);
    await client.scriptFlush();
    expect(await dir.reserve("a", "s1", 3)).toBe(true);
    expect(await dir.reserve("a", "s1", 4)).toBe(false);
    expect(await dir.providersFor("m1")).toMatchObject([{ active: 2 }]);
  });
});
