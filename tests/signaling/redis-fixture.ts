import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import { type RedisProcess, startRedis } from "./redis-server";

export type RedisClient = ReturnType<typeof createClient>;

/** One real redis-server and a connected client for the whole test file, stopped after it. */
export function useRedis(): { readonly url: string; readonly client: RedisClient } {
  let server: RedisProcess | undefined;
  let client: RedisClient | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });
  const started = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error("useRedis: Redis is only there inside tests");
    return x;
  };
  return {
    get url() {
      return started(server).url;
    },
    get client() {
      return started(client);
    },
  };
}
