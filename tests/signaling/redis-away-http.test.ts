import { afterAll, describe, expect, it } from "vitest";
import { cleanup, provider, startServer } from "./helpers";
import { startRedis } from "./redis-server";

/**
 * A Redis-backed node's HTTP routes while its Redis is away (a real redis-server, stopped). The
 * node's metrics are what an operator watches then: `/metrics` read the session count from Redis
 * first, and answered 500 "internal error" after the command's deadline, so monitoring lost the
 * node exactly while Redis was down. `/api/models` answered the same unexplained 500. Now metrics
 * are served (the session count last read), and the market view is a 503 naming the cause.
 */
afterAll(cleanup);

/** The node's Redis command deadline (5 s) and a loaded machine's slack. */
const BOUND_MS = 15_000;

describe("HTTP routes of a node whose Redis is away", () => {
  it("/metrics still answers; /api/models is 503 DIRECTORY_UNAVAILABLE, within the command deadline", async () => {
    const redis = await startRedis();
    try {
      const { url } = await startServer({ redisUrl: redis.url, redisPrefix: "away-http:" });
      await provider(url);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      expect((await fetch(`${url}/api/models`)).status).toBe(200);
      await redis.stop();

      let started = Date.now();
      const metrics = await fetch(`${url}/metrics`);
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain("silk_");

      started = Date.now();
      const models = await fetch(`${url}/api/models`);
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
      expect(models.status).toBe(503);
      expect(models.headers.get("retry-after")).toBe("1");
      const body = (await models.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("DIRECTORY_UNAVAILABLE");
      expect(body.error.message).toMatch(/Redis/);
    } finally {
      await redis.stop();
    }
  }, 60_000);
});
