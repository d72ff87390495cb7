import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  ask,
  askGateway,
  directory,
  expectWholeAnswer,
  FaultyNetwork,
  inFlight,
  MODEL,
  placesInUse,
  until,
} from "./faulty-network";
import { cleanup, connect, flat, type Granted, next, provider, requestBody, requestSession } from "./helpers";
import { type NodeProcess, startNode } from "./node-process";
import { type RedisProcess, startRedis } from "./redis-server";

/**
 * Two signaling processes on one real redis-server; one is killed (-9, so it tells nobody), then
 * Redis restarts empty. Clients know both nodes' URLs and move to the living one by themselves.
 */
let redis: RedisProcess | undefined;
const nodes: NodeProcess[] = [];
let net: FaultyNetwork | undefined;

afterEach(async () => {
  net?.close();
  await cleanup();
  await Promise.all(nodes.splice(0).map((n) => n.kill()));
  await redis?.stop();
});

// A node silent for 1.5 s is dead (the default is 5 s): the test need not wait longer than that.
const NODE_TTL_MS = 1_500;

async function twoNodes() {
  redis = await startRedis();
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: `t${randomBytes(4).toString("hex")}:`,
    NODE_TTL_MS: String(NODE_TTL_MS),
  };
  const [a, b] = await Promise.all([startNode(env), startNode(env)]);
  nodes.push(a, b);
  return { a, b };
}

describe("a node dies, then Redis restarts empty", () => {
  it("frees a session's place whichever node its requester or provider was on, and tells the survivor", async () => {
    const { a, b } = await twoNodes();
    await provider(a.url, { models: [{ model: "m1", price: flat(5n) }], capacity: 2 });
    const onB = await provider(b.url, { models: [{ model: "m2", price: flat(5n) }], capacity: 2 });
    const requesterOnA = await connect(a.url);
    const requesterOnB = await connect(b.url);
    await until(async () => (await directory(b.url)).providers === 2, "both listed", 10_000);

    // Requester on B with the provider on A; requester on A with the provider on B.
    const toA = (await requestSession(requesterOnB, requestBody("m1"))) as Granted;
    const toB = (await requestSession(requesterOnA, requestBody("m2"))) as Granted;
    expect([toA.ok, toB.ok]).toEqual([true, true]);
    await until(async () => placesInUse(await directory(b.url)) === 2, "two places taken", 5_000);

    const requesterTold = next(requesterOnB, "session:ended");
    const providerTold = next(onB.socket, "session:ended");
    const killedAt = Date.now();
    await a.kill();
    expect(await requesterTold).toMatchObject({
      sessionId: toA.sessionId,
      reason: "node-lost",
      error: { code: "NODE_LOST" },
    });
    expect(await providerTold).toMatchObject({ sessionId: toB.sessionId, reason: "node-lost" });
    // A's provider is gone and both places are free, well before the 120 s heartbeat timeout.
    const freed = await until(
      async () => {
        const d = await directory(b.url);
        return d.providers === 1 && placesInUse(d) === 0;
      },
      "dead node forgotten",
      15_000,
    );
    expect(freed - killedAt).toBeLessThan(NODE_TTL_MS + 5_000);
    // B's own provider still serves.
    expect(await requestSession(requesterOnB, requestBody("m2"))).toMatchObject({ ok: true });
  }, 120_000);

  it("everyone moves to the living node, answers in flight end whole or typed, and Redis restarting empty heals", async () => {
    const { a, b } = await twoNodes();
    const both = [a.url, b.url];
    net = new FaultyNetwork();
    await net.provider(both);
    await net.provider([b.url, a.url]);
    const direct = await net.requester(both);
    const relayed = await net.requester(both, { forceRelay: true });
    const gateway = await net.gateway([b.url, a.url]);
    await until(async () => (await directory(b.url)).providers === 2, "both listed", 10_000);
    expect(await ask(direct.client)).toBe("Echo: ping");
    expect(await ask(relayed.client)).toBe("Echo: ping");

    const onDirect = inFlight(direct.client, 60_000);
    const onRelay = inFlight(relayed.client, 60_000);
    await Promise.all([onDirect.started, onRelay.started]);
    const killedAt = Date.now();
    await a.kill();
    // Registered through B's own sockets (the shared directory may still list A's for a moment).
    const listed = await until(async () => (await health(b.url)).providers === 2, "registered on B", 30_000);
    expect(listed - killedAt).toBeLessThanOrEqual(5_000);
    const [d, r] = await Promise.all([onDirect.done, onRelay.done]);
    expect(d).toMatchObject({ ok: true, failovers: 0 });
    expectWholeAnswer(d);
    expectWholeAnswer(r);
    await expectServing(b.url, direct.client, relayed.client, gateway);

    // Redis restarts empty: no directory, no sessions, no node list. Re-registration alone heals it.
    const port = redis!.port;
    await redis!.stop();
    redis = await startRedis(port);
    const back = Date.now();
    // B's market view is cached for up to 0.5 s: read it only once it comes from the new Redis.
    await new Promise((r) => setTimeout(r, 600));
    const relisted = await until(
      async () => (await directory(b.url)).providers === 2,
      "listed again",
      30_000,
    );
    expect(relisted - back).toBeLessThanOrEqual(5_000);
    await expectServing(b.url, direct.client, relayed.client, gateway);
  }, 180_000);
});

async function health(url: string): Promise<{ providers: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { providers: number };
}

async function expectServing(
  url: string,
  direct: Parameters<typeof ask>[0],
  relayed: Parameters<typeof ask>[0],
  gateway: string,
) {
  expect(await ask(direct)).toBe("Echo: ping");
  expect(await ask(relayed)).toBe("Echo: ping");
  expect(await askGateway(gateway)).toEqual({ status: 200, text: "Echo: ping" });
  await until(async () => placesInUse(await directory(url)) === 0, "every place free", 10_000);
  await until(async () => net!.providers.every((p) => p.slots.load === 0), "providers idle", 10_000);
  await net!.expectPaidOnce();
  expect((await directory(url)).models.map((m) => m.model)).toEqual([MODEL]);
}
