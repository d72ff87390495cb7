import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FaultNodes, sessionAcross } from "./fault-nodes";
import { directory, placesInUse, until, within } from "./faulty-network";
import { next } from "./helpers";
import { startNode } from "./node-process";
import { startRedis } from "./redis-server";

/**
 * A node dies, and the claim on it (SREM off `nodes`, answered 1 to exactly one node) runs in
 * Redis but its reply reaches the claiming node after the command deadline (5 s): the claim
 * failed as far as that node knows, and the dead node is no longer listed for anyone else. The
 * node must count the claim as its own and forget the dead node.
 */
let scene: FaultNodes;
let proxy: Server | undefined;
afterEach(async () => {
  proxy?.close();
  proxy = undefined;
  await scene.close();
});

const NODE_TTL_MS = 1_500;
/** Longer than the node's command deadline (5 s) and its sweep (a fifth more). */
const HOLD_MS = 7_500;

/**
 * A TCP proxy to Redis: once a connection sends the claim (SREM on `<prefix>nodes`), the command
 * goes through at once, and what Redis answers on that connection is held back for HOLD_MS.
 */
function lateClaimProxy(redisPort: number, prefix: string): Promise<{ port: number; held: () => boolean }> {
  const claim = Buffer.from(`SREM\r\n$${Buffer.byteLength(`${prefix}nodes`)}\r\n${prefix}nodes\r\n`);
  let held = false;
  const server = createServer((client: Socket) => {
    const upstream = tcpConnect(redisPort, "127.0.0.1");
    let holding: Buffer[] | undefined;
    client.on("data", (d: Buffer) => {
      if (!held && d.includes(claim)) {
        held = true;
        holding = [];
        setTimeout(() => {
          for (const b of holding ?? []) client.write(b);
          holding = undefined;
        }, HOLD_MS);
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => (holding ? holding.push(d) : client.write(d)));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  proxy = server;
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as { port: number }).port, held: () => held }),
    ),
  );
}

describe("a dead node claimed by a SREM whose reply comes too late", () => {
  it("is still forgotten by the claiming node: its sessions end and their places are free", async () => {
    scene = new FaultNodes();
    scene.redis = await startRedis();
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const env = { REDIS_PREFIX: prefix, NODE_TTL_MS: String(NODE_TTL_MS) };
    const through = await lateClaimProxy(scene.redis.port, prefix);
    const [a, b] = await Promise.all([
      startNode({ ...env, REDIS_URL: scene.redis.url }),
      startNode({ ...env, REDIS_URL: `redis://127.0.0.1:${through.port}` }),
    ]);
    scene.nodes.push(a, b);
    const { onB, granted } = await sessionAcross(a, b);

    const providerTold = next(onB.socket, "session:ended");
    await a.kill();
    // B's claim ran (A is off the list) while its reply is held past B's deadline.
    await until(async () => through.held(), "the claim sent", 15_000);
    const members = () =>
      execFileSync("redis-cli", ["-p", String(scene.redis!.port), "SMEMBERS", `${prefix}nodes`])
        .toString()
        .trim()
        .split("\n");
    await until(async () => members().length === 1, "the claim run in Redis", 5_000);
    expect(await within(providerTold, HOLD_MS + 15_000, "the provider told")).toMatchObject({
      sessionId: granted.sessionId,
      reason: "node-lost",
    });
    await until(async () => placesInUse(await directory(b.url)) === 0, "the place freed", 10_000);
  }, 60_000);
});
