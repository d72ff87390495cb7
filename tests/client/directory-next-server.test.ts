import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { FaultNodes } from "../signaling/fault-nodes";
import { startServer } from "../signaling/helpers";
import { startNode } from "../signaling/node-process";
import { startRedis } from "../signaling/redis-server";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling node whose Redis is down refuses a request with DIRECTORY_UNAVAILABLE: it cannot
 * read its directory. That is the node's fault, not the network's: with other signaling servers
 * configured, the request goes on at the next one (as after a failed handshake), and only when
 * every one failed does it end, the error naming each server and what failed there. Real
 * signaling nodes (processes on one real redis-server, stopped; killed after) and an in-process
 * one without Redis, on loopback; real WebRTC relayed by the server.
 */
let scene: FaultNodes;
afterEach(async () => {
  stopAll();
  await scene.close();
});

describe("a signaling node whose Redis is down, with other servers configured", () => {
  it("the request goes on at the next server and is answered there", async () => {
    scene = new FaultNodes();
    scene.redis = await startRedis();
    const down = await startNode({ REDIS_URL: scene.redis.url, REDIS_PREFIX: "down:" });
    scene.nodes.push(down);
    const { url: up } = await startServer();
    await relayProvider(up);
    const client = await relayClient([down.url, up].join(","));
    await scene.redis.stop();
    const answer = await ask(client, "anyone with a directory");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone with a directory");
  }, 60_000);

  it("with every server down, the error is DIRECTORY_UNAVAILABLE naming each server and what failed", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two();
    const client = await relayClient([a.url, b.url].join(","));
    await scene.redis!.stop();
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("DIRECTORY_UNAVAILABLE");
    const message = (err as Error).message;
    expect(message).toContain(`${a.url} refused the request with DIRECTORY_UNAVAILABLE`);
    expect(message).toContain(`${b.url} refused the request with DIRECTORY_UNAVAILABLE`);
    expect(message).toMatch(/Redis/);
  }, 60_000);
});
