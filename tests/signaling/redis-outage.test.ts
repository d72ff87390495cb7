import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { FaultNodes } from "./fault-nodes";
import { ask, askGateway, directory, MODEL, until } from "./faulty-network";

/**
 * Redis goes away under a living signaling node (one real redis-server, stopped, then started
 * again empty on its port). A question asked meanwhile ends with an error naming that cause, at
 * the SDK and at the gateway (a 503 an OpenAI client retries), within the node's Redis deadline;
 * never an unexplained INTERNAL. Once Redis is back the same requesters are answered again.
 */
let scene: FaultNodes;
afterEach(() => scene.close());

/** The node's Redis command deadline (5 s) and a loaded machine's slack. */
const BOUND_MS = 20_000;

describe("Redis away under a living node", () => {
  it("a question meanwhile is DIRECTORY_UNAVAILABLE (SDK) and a 503 naming Redis (gateway); answered again once Redis is back", async () => {
    const { a } = await scene_two();
    await scene.net.provider(a.url);
    const { client } = await scene.net.requester(a.url);
    const gateway = await scene.net.gateway(a.url);
    expect(await ask(client)).toBe("Echo: ping");
    const port = scene.redis!.port;
    await scene.redis!.stop();

    // A fresh requester: no session of its own to reuse, so it must be paired.
    const { client: fresh } = await scene.net.requester(a.url);
    const start = Date.now();
    const err = await ask(fresh).catch((e: unknown) => e);
    expect(Date.now() - start).toBeLessThan(BOUND_MS);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("DIRECTORY_UNAVAILABLE");
    expect((err as Error).message).toMatch(/Redis/);

    const res = await fetch(`${gateway}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "ping" }], stream: true }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as {
      error: { type: string; code: string; message: string; silk_detail?: string };
    };
    expect(body.error).toMatchObject({ type: "service_unavailable", code: "directory_unavailable" });
    // Silk's sentence names the refusal; the server's own (unchecked) words, naming Redis, are apart.
    expect(body.error.message).toMatch(/refused the request with DIRECTORY_UNAVAILABLE/);
    expect(body.error.silk_detail).toMatch(/Redis/);

    scene.redis = await (await import("./redis-server")).startRedis(port);
    await until(async () => (await directory(a.url)).providers === 1, "listed again", 30_000);
    expect(await ask(fresh)).toBe("Echo: ping");
    expect(await askGateway(gateway)).toEqual({ status: 200, text: "Echo: ping" });
  }, 120_000);
});

async function scene_two() {
  scene = new FaultNodes();
  return scene.two();
}
