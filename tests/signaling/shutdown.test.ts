import { afterEach, describe, expect, it } from "vitest";
import { FaultNodes, health } from "./fault-nodes";
import {
  ask,
  askGateway,
  directory,
  expectWholeAnswer,
  inFlight,
  placesInUse,
  until,
  within,
} from "./faulty-network";

/**
 * A node told to stop (SIGTERM) while answers stream through it: it ends only what needs it.
 * Direct sessions go on untouched, relayed ones end with SHUTTING_DOWN, and every client moves
 * to the other node (they know both URLs) instead of failing over against the one leaving.
 */
let scene: FaultNodes;
afterEach(() => scene.close());

describe("graceful shutdown (SIGTERM) of one of two nodes", () => {
  it("direct answers finish, relayed ones move on, everyone is on the other node within seconds", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two();
    const both = [a.url, b.url];
    const net = scene.net;
    const { direct, relayed, gateway } = await net.populate({
      providers: [both, both],
      requesters: both,
      gateway: both,
    });

    const onDirect = inFlight(direct, 60_000);
    const onRelay = inFlight(relayed, 60_000);
    await within(Promise.all([onDirect.started, onRelay.started]), 30_000, "answers started");
    const stoppedAt = Date.now();
    expect(await within(a.stop(), 30_000, "node A stopped")).toBe(0);

    // Both providers registered through B within 5 s of the notice; no client is left on A.
    const moved = await until(async () => (await health(b.url)).providers === 2, "providers on B", 30_000);
    expect(moved - stoppedAt).toBeLessThanOrEqual(5_000);

    const [d, r] = await Promise.all([onDirect.done, onRelay.done]);
    // The direct channel never needed A: untouched. The relayed answer continues through B, or
    // (on a machine too loaded for the SDK's deadlines) ends with a typed error, never a hang.
    expect(d).toMatchObject({ ok: true, failovers: 0 });
    expectWholeAnswer(d);
    expectWholeAnswer(r);

    expect(await ask(direct)).toBe("Echo: ping");
    expect(await ask(relayed)).toBe("Echo: ping");
    expect(await askGateway(gateway)).toEqual({ status: 200, text: "Echo: ping" });
    await until(async () => placesInUse(await directory(b.url)) === 0, "every place free", 10_000);
    await until(async () => net.providers.every((p) => p.slots.load === 0), "providers idle", 10_000);
    await net.expectPaidOnce();
  }, 180_000);
});
