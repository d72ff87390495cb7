import { randomBytes } from "node:crypto";
import { createClient } from "redis";
import { afterEach, describe, expect, it } from "vitest";
import { RedisDirectory } from "../../signaling/directory/redis-directory";
import { RedisUnavailableError } from "../../signaling/errors";
import { withDeadline } from "../../signaling/redis-deadline";
import {
  captureLogger,
  cleanup,
  connect,
  flat,
  PAYOUT,
  provider,
  requestBody,
  requestSession,
  startServer,
} from "./helpers";
import { type RedisProcess, startRedis } from "./redis-server";

/**
 * Ends owed to Redis (a pairing or an end that got no reply): one swept map, one CLOSE per owed
 * session per sweep, none while the client is offline (node-redis would only queue it, and send
 * the whole queue at once on recovery), and a word when one is given up.
 */
const started: RedisProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  // The servers and sockets a case started, closed (close is idempotent) whether or not it failed.
  await cleanup();
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pick = {
  model: "m1",
  maxPrice: { promptNanoPerToken: 9n, completionNanoPerToken: 9n },
  exclude: new Set<string>(),
  now: 2,
  failureWindowMs: 1000,
};
const draft = { requesterSocketId: "r", requesterNode: "n2" };

/**
 * Makes a Redis started with `--busy-reply-threshold` answer BUSY ("not now") to everyone else:
 * a script loops until `end` kills it (SCRIPT KILL), as LOADING is answered after a restart.
 */
async function busyRedis(url: string): Promise<{ end: () => Promise<void> }> {
  const blocker = createClient({ url });
  const killer = createClient({ url });
  for (const c of [blocker, killer]) {
    c.on("error", () => undefined);
    await c.connect();
  }
  cleanups.push(() => {
    blocker.destroy();
    killer.destroy();
  });
  const looping = blocker.eval("while true do end", { keys: [], arguments: [] }).catch((e: unknown) => e);
  await sleep(300);
  let ended = false;
  return {
    async end() {
      if (ended) return;
      ended = true;
      await killer.sendCommand(["SCRIPT", "KILL"]).catch(() => undefined);
      await looping;
    },
  };
}

async function scene(deadlineMs: number, tries: number, redisArgs: string[] = []) {
  const redis = await startRedis(undefined, redisArgs);
  started.push(redis);
  const client = createClient({ url: redis.url, commandOptions: { timeout: 0 } });
  client.on("error", () => undefined);
  await client.connect();
  const timed = withDeadline(client, deadlineMs);
  const ends = { sent: 0 };
  const givenUp: { session: string; why: string }[] = [];
  const endedLate: string[] = [];
  const dir = new RedisDirectory(timed.client, {
    prefix: `e${randomBytes(4).toString("hex")}:`,
    entryTtlMs: 60_000,
    onCommand: (op) => {
      if (op === "end") ends.sent++;
    },
    lateEnd: { retryMs: 100, tries },
    onLateEnd: (session) => endedLate.push(session),
    onLateEndGivenUp: (session, why) => givenUp.push({ session, why }),
  });
  cleanups.push(() => {
    void dir.close();
    timed.stop();
    client.destroy();
  });
  await dir.register(
    {
      identityKey: "a",
      socketId: "s-a",
      payout: PAYOUT,
      models: [{ model: "m1", price: flat(5n) }],
      capacity: 8,
      device: {},
      registeredAt: 1,
      node: "n1",
    },
    1,
  );
  // Warm the script cache.
  const warm = await dir.reserveBest(pick, draft);
  if (!warm.ok) throw new Error(warm.message);
  await dir.closeSession(warm.sessionId);
  ends.sent = 0;
  return { redis, client, dir, ends, givenUp, endedLate };
}

describe("ends owed to Redis", () => {
  it("are not sent while the client is offline, however long, and each is sent once when Redis is back", async () => {
    const { redis, client, dir, ends, givenUp } = await scene(300, 3);
    const port = redis.port;
    await redis.stop();
    await expect.poll(() => client.isReady, { timeout: 10_000 }).toBe(false);
    const failed = await Promise.allSettled([1, 2, 3, 4].map(() => dir.reserveBest(pick, draft)));
    for (const f of failed) {
      expect(f.status).toBe("rejected");
      expect((f as PromiseRejectedResult).reason).toBeInstanceOf(RedisUnavailableError);
    }
    expect(dir.owedEnds).toBe(4);
    // Twenty sweeps' worth of outage: nothing queued behind the outage, no try spent, none given up.
    await sleep(2_000);
    expect(ends.sent).toBe(0);
    expect(givenUp).toEqual([]);
    expect(dir.owedEnds).toBe(4);

    started.push(await startRedis(port));
    await expect.poll(() => dir.owedEnds, { timeout: 10_000 }).toBe(0);
    // One CLOSE each: an EVALSHA, and its EVAL as the restarted Redis forgot the script.
    expect(ends.sent).toBeLessThanOrEqual(8);
    await sleep(500);
    expect(ends.sent).toBeLessThanOrEqual(8);
    expect(givenUp).toEqual([]);
  }, 30_000);

  it("are given up, and said so, after their tries go unanswered; a pairing Redis ran late is still ended by the tries sent", async () => {
    const { redis, dir, ends, givenUp, endedLate } = await scene(200, 3);
    redis.pause();
    let resumed = false;
    try {
      const err = await dir.reserveBest(pick, draft).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect(dir.owedEnds).toBe(1);
      await expect.poll(() => givenUp.length, { timeout: 10_000 }).toBe(1);
      expect(givenUp[0]!.why).toBe("no reply from Redis to 3 tries");
      expect(givenUp[0]!.session).toMatch(/^[\w-]+$/);
      expect(ends.sent).toBe(3);
      expect(dir.owedEnds).toBe(0);
      await sleep(500);
      expect(ends.sent).toBe(3);
      redis.resume();
      resumed = true;
    } finally {
      if (!resumed) redis.resume();
    }
    // What was sent meanwhile runs in order: the pairing, then the CLOSEs; the place is free.
    await expect
      .poll(async () => (await dir.providersFor("m1")).map((p) => p.active), { timeout: 10_000 })
      .toEqual([0]);
    expect(endedLate).toEqual([]);
  }, 30_000);
});

describe('ends answered "not now" by Redis', () => {
  it("are owed, and kept through their tries while Redis answers BUSY, then sent once it answers", async () => {
    // A script running past 100 ms makes Redis answer BUSY to everyone else until SCRIPT KILL:
    // a real "not now" reply, as LOADING is from a Redis reading its data after a restart.
    const { redis, dir, ends, givenUp, endedLate } = await scene(2_000, 5, ["--busy-reply-threshold", "100"]);
    const granted = await dir.reserveBest(pick, draft);
    if (!granted.ok) throw new Error(granted.message);
    const busy = await busyRedis(redis.url);
    try {
      const err = await dir.closeSession(granted.sessionId).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/^BUSY /);
      // A pairing answered BUSY never ran: still owed an end (a CLOSE of nothing is harmless).
      const refused = await dir.reserveBest(pick, draft).catch((e: unknown) => e);
      expect((refused as Error).message).toMatch(/^BUSY /);
      expect(dir.owedEnds).toBe(2);
      // Three sweeps answered BUSY: tries spent, nothing given up.
      await expect.poll(() => ends.sent, { timeout: 5_000 }).toBeGreaterThanOrEqual(6);
      expect(givenUp).toEqual([]);
      expect(dir.owedEnds).toBe(2);
    } finally {
      await busy.end();
    }
    await expect.poll(() => dir.owedEnds, { timeout: 5_000 }).toBe(0);
    expect(givenUp).toEqual([]);
    expect(endedLate).toEqual([granted.sessionId]);
    expect((await dir.providersFor("m1")).map((p) => p.active)).toEqual([0]);
  }, 30_000);
});

describe('a pairing Redis answers "not now"', () => {
  it("is refused DIRECTORY_UNAVAILABLE, as Redis away is (not INTERNAL), so the requester tries another node", async () => {
    const redis = await startRedis(undefined, ["--busy-reply-threshold", "100"]);
    started.push(redis);
    // No leases: the pairing goes to Redis.
    const { url } = await startServer({ redisUrl: redis.url, leaseUnits: 0 });
    await provider(url, { capacity: 2 });
    const requester = await connect(url);
    expect(await requestSession(requester)).toMatchObject({ ok: true });
    const busy = await busyRedis(redis.url);
    try {
      expect(await requestSession(requester)).toMatchObject({
        ok: false,
        error: { code: "DIRECTORY_UNAVAILABLE" },
      });
    } finally {
      await busy.end();
    }
  }, 30_000);
});

describe("a node closing with ends still owed", () => {
  it("gives up, and says so, an end owed after it closed (a CLOSE in flight when the node closes)", async () => {
    const { redis, dir, givenUp } = await scene(300, 3);
    const granted = await dir.reserveBest(pick, draft);
    if (!granted.ok) throw new Error(granted.message);
    redis.pause();
    try {
      const ending = dir.closeSession(granted.sessionId).catch((e: unknown) => e);
      await dir.close();
      expect(givenUp).toEqual([]);
      expect(await ending).toBeInstanceOf(RedisUnavailableError);
      expect(givenUp).toEqual([{ session: granted.sessionId, why: "the node closed first" }]);
      expect(dir.owedEnds).toBe(0);
    } finally {
      redis.resume();
    }
  }, 30_000);

  it("logs each one it gives up, by session id and cause, no key", async () => {
    const redis = await startRedis();
    started.push(redis);
    const { logger, lines } = captureLogger("info");
    // No leases: the pairing goes to Redis.
    const { server, url } = await startServer({ redisUrl: redis.url, leaseUnits: 0, logger });
    const p = await provider(url, { capacity: 2 });
    const requester = await connect(url);
    // A pairing before the outage: the audit standing it reads first is then answered from memory.
    expect(await requestSession(requester)).toMatchObject({ ok: true });
    await redis.stop();
    // Answered once the node's Redis deadline (5 s) runs out: longer than `call` waits.
    const refused = (await requester
      .timeout(20_000)
      .emitWithAck("session:request", requestBody())) as unknown;
    expect(refused).toMatchObject({ ok: false, error: { code: "DIRECTORY_UNAVAILABLE" } });
    await server.close();
    const given = lines
      .map((l) => JSON.parse(l) as { msg?: string; session?: string; why?: string })
      .filter((l) => l.msg?.includes("late end was given up"));
    // The failed pairing's, and the granted session's, ended at shutdown with Redis away.
    expect(given).toHaveLength(2);
    for (const g of given)
      expect(g).toMatchObject({ session: expect.stringMatching(/^[\w-]+$/), why: "the node closed first" });
    expect(JSON.stringify(given)).not.toContain(p.identityKey);
  }, 30_000);
});
