import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { call, cleanup, connect, provider, requestSession, startServer } from "./helpers";
import { useRedis } from "./redis-fixture";
import { startRedis } from "./redis-server";

/**
 * Shutting a Redis-backed node down while the directory feed still has an update to publish (a
 * session ended by the shutdown itself changes the market): Redis must close last, and nothing may
 * reach Redis after it closed (once, the feed published through the adapter after the client had
 * closed: an unhandled `ClientClosedError`).
 */
const redis = useRedis();
afterAll(cleanup);

describe("shutdown of a Redis-backed node", () => {
  it("cleans up in Redis, closes Redis last, and leaves no rejection behind", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
      const prefix = `sd${randomBytes(4).toString("hex")}:`;
      const { server, url } = await startServer({ redisUrl: redis.url, redisPrefix: prefix });
      await provider(url, { capacity: 2 });
      const requester = await connect(url);
      await call(requester, "directory:subscribe", { v: 1 });
      expect(await requestSession(requester)).toMatchObject({ ok: true });
      const before = await clientCount();

      await server.close();
      // Late work (an offer answered after the node closed, a feed read in flight) still emits.
      server.io.to("directory").emit("directory:update", { v: 1 });
      // The feed coalesces changes for 500 ms: wait past it, and past a liveness beat.
      await new Promise((r) => setTimeout(r, 1_500));

      expect(rejections).toEqual([]);
      // What the node held in Redis was given back before its clients closed.
      expect(await redis.client.sMembers(`${prefix}providers`)).toEqual([]);
      expect(await redis.client.zCard(`${prefix}sessions`)).toBe(0);
      expect(await redis.client.sMembers(`${prefix}nodes`)).toEqual([]);
      // Its three connections (publish, subscribe, data) are closed.
      expect(await clientCount()).toBe(before - 3);
    } finally {
      process.off("unhandledRejection", onRejection);
    }
  }, 30_000);
});

/** How long a node whose Redis is away may take to stop: well under the 15 s it took. */
const STOP_WITHOUT_REDIS_MS = 8_000;

describe("shutdown of a node whose Redis is away", () => {
  it("finishes within a few seconds (its Redis steps not waited for) and leaves no rejection behind", async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on("unhandledRejection", onRejection);
    const own = await startRedis();
    try {
      const { server, url } = await startServer({ redisUrl: own.url });
      await provider(url, { capacity: 2 });
      const requester = await connect(url);
      expect(await requestSession(requester)).toMatchObject({ ok: true });
      await own.stop();
      // node-redis's close() waited for Redis to come back: the node never finished closing, and
      // cutting it instead left the adapter's unsubscribes rejected with no one to hear. Then
      // each Redis step waited out its 5 s deadline in turn (15 s); Redis known away, none waits
      // (it takes tens of ms here; the bound is generous).
      const closed = await Promise.race([
        server.close().then(() => "closed"),
        new Promise((r) =>
          setTimeout(r, STOP_WITHOUT_REDIS_MS, `still closing after ${STOP_WITHOUT_REDIS_MS} ms`),
        ),
      ]);
      expect(closed).toBe("closed");
      await new Promise((r) => setTimeout(r, 500));
      expect(rejections).toEqual([]);
    } finally {
      process.off("unhandledRejection", onRejection);
      await own.stop();
    }
  }, 60_000);
});

async function clientCount(): Promise<number> {
  const list = await redis.client.clientList();
  return list.length;
}
