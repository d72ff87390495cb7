import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../protocol";
import {
  call,
  cleanup,
  connect,
  flat,
  next,
  provider,
  register,
  requestSession,
  startServer,
} from "./helpers";
import { type NodeProcess, startNode } from "./node-process";
import { type RedisProcess, startRedis } from "./redis-server";

let redis: RedisProcess;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await cleanup();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.stop();
});

async function models(url: string): Promise<{ providers: number }> {
  const res = await fetch(`${url}/api/models`);
  return (await res.json()) as { providers: number };
}

/** Polls until `check` passes (state converging across processes); fails the test after `tries`. */
async function eventually(check: () => Promise<boolean>, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe("signaling scale-out: two processes sharing one redis-server", () => {
  it("pairs across nodes, relays across nodes, and pairs again after a node restarts", async () => {
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `t${randomBytes(4).toString("hex")}:` };
    const a = await startNode(env);
    const b = await startNode(env);
    nodes.push(a, b);

    // Provider on A (reconnecting and re-registering as a tab must), requester on B.
    const p = await provider(
      a.url,
      { models: [{ model: "m1", price: flat(5n) }], capacity: 2 },
      { reconnection: true },
    );
    const r = await connect(b.url);
    await eventually(async () => (await models(b.url)).providers === 1, "B sees A's provider");

    const granted = await requestSession(r);
    if (!granted.ok) throw new Error(`expected a session: ${JSON.stringify(granted)}`);
    expect(granted.provider.identityKey).toBe(p.identityKey);

    const atProvider = next(p.socket, "session:signal");
    await call(r, "session:signal", {
      v: 1,
      sessionId: granted.sessionId,
      data: { type: "offer", sdp: "from-B" },
    });
    expect(await atProvider).toMatchObject({ data: { sdp: "from-B" } });
    const atRequester = next<{ frame: Uint8Array }>(r, "session:frame");
    await call(p.socket, "session:frame", {
      v: 1,
      sessionId: granted.sessionId,
      frame: new Uint8Array([9, 8, 7]),
    });
    expect(new Uint8Array((await atRequester).frame)).toEqual(new Uint8Array([9, 8, 7]));

    // A socket on A that is not a party cannot inject, even though the room is shared.
    const intruder = await connect(a.url);
    expect(
      await call(intruder, "session:signal", { v: 1, sessionId: granted.sessionId, data: {} }),
    ).toMatchObject({
      error: { code: "NOT_IN_SESSION" },
    });
    intruder.disconnect();

    // Capacity is shared: the second session fills it, the third finds everyone busy.
    const second = await requestSession(r);
    expect(second.ok).toBe(true);
    expect(await requestSession(r)).toMatchObject({ error: { code: "ALL_BUSY" } });
    // Three requests through B (two grants, one refusal), one Redis command each (the first
    // granted by the pairing script, the second from B's lease and recorded by the claim script),
    // plus one EVAL for each script this node was the first to run since Redis started.
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    const pairCommands = Number(/^silk_redis_commands_total\{op="pair"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(pairCommands).toBeGreaterThanOrEqual(3);
    expect(pairCommands).toBeLessThanOrEqual(5);
    const ended = next(p.socket, "session:ended");
    await call(r, "session:end", { v: 1, sessionId: granted.sessionId });
    expect(await ended).toMatchObject({ sessionId: granted.sessionId, reason: "ended" });

    // Restart A: the open session is ended for the requester on B, A's provider leaves the shared
    // directory, and comes back by itself once A is up again on the same port.
    const shutdown = next(r, "session:ended");
    expect(await a.stop()).toBe(0);
    expect(await shutdown).toMatchObject({ reason: "shutdown" });
    // B's view is at most half a second old.
    await eventually(async () => (await models(b.url)).providers === 0, "A's provider left the directory");
    const a2 = await startNode({ ...env, PORT: String(a.port) });
    nodes.push(a2);
    await eventually(async () => (await models(b.url)).providers === 1, "provider re-registered through A");

    const again = await requestSession(r);
    expect(again).toMatchObject({ ok: true, provider: { identityKey: p.identityKey } });
  }, 90_000);

  it("a resume ticket one node signed lets its provider past another node's per-IP limit", async () => {
    // In-process nodes with no secret configured: each made its own, and Redis made them share one.
    const env = { redisUrl: redis.url, redisPrefix: `t${randomBytes(4).toString("hex")}:` };
    const a = await startServer(env);
    const b = await startServer({ ...env, ipConnectionBurst: 0, ipConnectionsPerMinute: 0 });
    const socket = await connect(a.url);
    const identity = generateKeyPair();
    const ack = (await register(socket, identity)) as { ok: boolean; ticket?: string };
    await expect(connect(b.url, { query: { resume: "1" } })).rejects.toBeDefined();
    const moved = await connect(b.url, { query: { resume: "1", ticket: ack.ticket ?? "" } });
    expect(await register(moved, identity)).toMatchObject({ ok: true });
  });
});
