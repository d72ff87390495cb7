import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { directory, FaultyNetwork, placesInUse, until } from "./faulty-network";
import { cleanup, connect, flat, type Granted, provider, requestBody, requestSession } from "./helpers";
import { type NodeProcess, startNode } from "./node-process";
import { type RedisProcess, startRedis } from "./redis-server";

/**
 * Signaling processes on one real redis-server, and the network of clients on them, for the
 * fault tests: `close()` after each test stops whatever was started (nodes killed, not asked).
 */
export class FaultNodes {
  redis: RedisProcess | undefined;
  readonly nodes: NodeProcess[] = [];
  readonly net = new FaultyNetwork();

  /** Two nodes sharing a fresh key prefix; `env` adds settings (NODE_TTL_MS, say). */
  async two(env: Record<string, string> = {}): Promise<{ a: NodeProcess; b: NodeProcess }> {
    this.redis = await startRedis();
    const shared = { REDIS_URL: this.redis.url, REDIS_PREFIX: `t${randomBytes(4).toString("hex")}:`, ...env };
    const [a, b] = await Promise.all([startNode(shared), startNode(shared)]);
    this.nodes.push(a, b);
    return { a, b };
  }

  /** Redis stopped and started again on its port, empty (it keeps nothing on disk). */
  async restartRedis(): Promise<void> {
    const port = this.redis!.port;
    await this.redis!.stop();
    this.redis = await startRedis(port);
  }

  async close(): Promise<void> {
    this.net.close();
    await cleanup();
    await Promise.all(this.nodes.splice(0).map((n) => n.kill()));
    await this.redis?.stop();
  }
}

/** A node's own view: providers registered through its sockets, and its sockets. */
export async function health(url: string): Promise<{ providers: number; sockets: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { providers: number; sockets: number };
}

/**
 * A provider on `b` (model m2) and a requester on `a` holding one of its places: the session a
 * node's death must end. Waits on `b` only: once it lists the provider (the directory is the
 * shared Redis, so `a`'s pairing reads the same), and once it counts the place taken.
 */
export async function sessionAcross(a: NodeProcess, b: NodeProcess) {
  const onB = await provider(b.url, { models: [{ model: "m2", price: flat(5n) }], capacity: 2 });
  const requesterOnA = await connect(a.url);
  await until(async () => (await directory(b.url)).providers === 1, "listed", 10_000);
  const granted = (await requestSession(requesterOnA, requestBody("m2"))) as Granted;
  expect(granted.ok).toBe(true);
  await until(async () => placesInUse(await directory(b.url)) === 1, "the place taken", 5_000);
  return { onB, requesterOnA, granted };
}
