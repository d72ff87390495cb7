import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  ask,
  askGateway,
  directory,
  expectWholeAnswer,
  FaultyNetwork,
  inFlight,
  placesInUse,
  until,
} from "./faulty-network";
import { cleanup, connect, flat, type Granted, next, provider, requestBody, requestSession } from "./helpers";
import { type NodeProcess, startNode } from "./node-process";
import { type RedisProcess, startRedis } from "./redis-server";

/**
 * A node told to stop (SIGTERM) while answers stream through it: it ends only what needs it.
 * Direct sessions go on untouched, relayed ones end with SHUTTING_DOWN, and every client moves
 * to the other node (they know both URLs) instead of failing over against the one leaving.
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

async function health(url: string): Promise<{ providers: number; sockets: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { providers: number; sockets: number };
}

describe("graceful shutdown (SIGTERM) of one of two nodes", () => {
  it("direct answers finish, relayed ones move on, everyone is on the other node within seconds", async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `t${randomBytes(4).toString("hex")}:` };
    const [a, b] = await Promise.all([startNode(env), startNode(env)]);
    nodes.push(a, b);
    const both = [a.url, b.url];
    net = new FaultyNetwork();
    await net.provider(both);
    await net.provider(both);
    const direct = await net.requester(both);
    const relayed = await net.requester(both, { forceRelay: true });
    const gateway = await net.gateway(both);
    expect(await ask(direct.client)).toBe("Echo: ping");
    expect(await ask(relayed.client)).toBe("Echo: ping");

    // A bare relayed session on A, to read exactly what its parties are told.
    const rawProvider = await provider(a.url, { models: [{ model: "raw", price: flat(5n) }] });
    const rawRequester = await connect(a.url);
    const granted = (await requestSession(rawRequester, requestBody("raw"))) as Granted;
    expect(granted.ok).toBe(true);
    const toldRequester = next(rawRequester, "session:ended");
    const toldProvider = next(rawProvider.socket, "session:ended");
    const shutdownNotice = next(rawRequester, "server:shutdown");

    const onDirect = inFlight(direct.client, 60_000);
    const onRelay = inFlight(relayed.client, 60_000);
    await Promise.all([onDirect.started, onRelay.started]);
    const stoppedAt = Date.now();
    expect(await a.stop()).toBe(0);

    expect(await shutdownNotice).toMatchObject({ reconnect: true });
    for (const told of [await toldRequester, await toldProvider])
      expect(told).toMatchObject({
        sessionId: granted.sessionId,
        reason: "shutdown",
        error: { code: "SHUTTING_DOWN" },
      });

    // Both providers registered through B within 5 s of the notice; no client is left on A.
    const moved = await until(async () => (await health(b.url)).providers === 2, "providers on B", 30_000);
    expect(moved - stoppedAt).toBeLessThanOrEqual(5_000);

    const [d, r] = await Promise.all([onDirect.done, onRelay.done]);
    // The direct channel never needed A: untouched. The relayed answer continued through B.
    expect(d).toMatchObject({ ok: true, failovers: 0 });
    expectWholeAnswer(d);
    expect(r).toMatchObject({ ok: true });
    expectWholeAnswer(r);

    expect(await ask(direct.client)).toBe("Echo: ping");
    expect(await ask(relayed.client)).toBe("Echo: ping");
    expect(await askGateway(gateway)).toEqual({ status: 200, text: "Echo: ping" });
    await until(async () => placesInUse(await directory(b.url)) === 0, "every place free", 10_000);
    await until(async () => net!.providers.every((p) => p.slots.load === 0), "providers idle", 10_000);
    await net.expectPaidOnce();
  }, 180_000);
});
