import { io } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { SignalingClient } from "../../peer/signaling-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { directory, until } from "./faulty-network";
import { call, cleanup, connect, PAYOUT, signedRegistration, startServer } from "./helpers";
import { type NodeProcess, startNode } from "./node-process";
import { freePort } from "./redis-server";

/**
 * A restart brings every client back at once, many of them from one address (a NAT, or here
 * loopback). The per-IP connection limit must not turn that honest storm away: clients that say
 * they are reconnecting are admitted past it for a while after the node starts.
 */
let node: NodeProcess | undefined;
const clients: SignalingClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await node?.kill();
  await cleanup();
});

function dial(url: string, query?: Record<string, string>): Promise<boolean> {
  const socket = io(url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    ...(query && { query }),
  });
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.close();
      resolve(true);
    });
    socket.once("connect_error", () => resolve(false));
  });
}

describe("reconnect storm", () => {
  it("admits reconnecting clients past the per-IP connection limit only within the window", async () => {
    const limits = { ipConnectionBurst: 2, ipConnectionsPerMinute: 1 };
    const { url } = await startServer(limits);
    expect([await dial(url), await dial(url), await dial(url)]).toEqual([true, true, false]);
    const back = await Promise.all(Array.from({ length: 50 }, () => dial(url, { resume: "1" })));
    expect(back.every(Boolean)).toBe(true);

    const closed = await startServer({ ...limits, reconnectWindowMs: 0 });
    expect([await dial(closed.url), await dial(closed.url)]).toEqual([true, true]);
    expect(await dial(closed.url, { resume: "1" })).toBe(false);
  });

  it("keeps the window open while returning providers keep registering, not for a bare claim", async () => {
    const windowMs = 4_000;
    const limits = { ipConnectionBurst: 1, ipConnectionsPerMinute: 1, reconnectWindowMs: windowMs };
    const { url } = await startServer(limits);
    const startedAt = Date.now();
    expect(await dial(url)).toBe(true); // the address's whole budget
    await new Promise((r) => setTimeout(r, 1_500));
    // A returning provider registers (a signature, not a claim) within the window...
    const socket = await connect(url, { query: { resume: "1" } });
    const { challenge } = await call<{ challenge: string }>(socket, "provider:challenge", { v: 1 });
    const registered = await call(
      socket,
      "provider:register",
      signedRegistration(generateKeyPair(), challenge),
    );
    expect(registered).toMatchObject({ ok: true });
    const registeredBy = Date.now();
    // ...so a storm still arriving is admitted past where the window would have closed.
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + windowMs + 300 - Date.now())));
    expect(await dial(url, { resume: "1" })).toBe(true);
    // Claims alone extend nothing: once no returning provider registers, the window closes.
    await new Promise((r) => setTimeout(r, Math.max(0, registeredBy + windowMs + 500 - Date.now())));
    expect(await dial(url, { resume: "1" })).toBe(false);
  });

  it("200 providers on one address all register again after a restart with a small per-IP budget", async () => {
    const port = await freePort();
    const env = { PORT: String(port), IP_CONNECTION_BURST: "1000" };
    node = await startNode(env);
    const identities = Array.from({ length: 200 }, () => generateKeyPair());
    await Promise.all(
      identities.map(async (identity) => {
        const c = await SignalingClient.connect(node!.url, { timeoutMs: 30_000 });
        clients.push(c);
        await c.register({
          identity,
          payout: PAYOUT,
          models: [{ model: "storm", price: flatPrice(5n) }],
          capacity: 1,
          device: { adapter: "test", memoryMB: 1024, shaderF16: false },
        });
      }),
    );
    await until(async () => (await directory(node!.url)).providers === 200, "all listed", 10_000);

    await node.kill();
    // Restarted with a per-IP budget of 10: 200 from one address is far past it.
    node = await startNode({ PORT: String(port), IP_CONNECTION_BURST: "10" });
    const upAt = Date.now();
    const listed = await until(
      async () => (await directory(node!.url)).providers === 200,
      "all back",
      90_000,
    );
    // Nobody gave up or was turned away for good. (How fast is the machine's business: 200
    // clients in this one test process share its event loop; the small networks of the other
    // fault tests assert the 5 s.)
    expect(listed).toBeGreaterThan(upAt);
    expect(clients.every((c) => c.state.phase === "registered")).toBe(true);
  }, 120_000);
});
