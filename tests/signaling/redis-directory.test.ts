import { randomBytes } from "node:crypto";
import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { directorySuite } from "./directory-suite";
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
