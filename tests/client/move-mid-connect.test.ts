import { afterEach, describe, expect, it } from "vitest";
import { FaultNodes } from "../signaling/fault-nodes";
import { frames, stallAfter } from "../support/mitm-behaviours";
import { startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The requester's signaling connection drops while a granted session is still being made through
 * it (the handshake's frames held on the way): the session ends SIGNALING_LOST, our own
 * connection's doing, not the provider's. The request is asked again on the next node, and the
 * same provider (listed there too: two nodes on one real redis-server) may take it.
 */
let scene: FaultNodes;
afterEach(async () => {
  stopAll();
  await scene.close();
});

describe("the connection dropping while a granted session is made", () => {
  it("asks again on the next node without blaming the provider, and is answered", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two();
    const held = stallAfter(0, frames("requester"));
    const mitm = await startMitm(a.url, [held]);
    const provider = await relayProvider(b.url);
    const client = await relayClient([labelled(mitm.url, "requester"), b.url].join(","));
    const asked = ask(client, "once more").catch((e: Error) => e);
    const until = Date.now() + 20_000;
    while (held.held === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(held.held).toBeGreaterThan(0);
    for (const p of mitm.parties) p.kill();
    const answer = await asked;
    await mitm.close();
    expect(
      answer instanceof Error
        ? `${(answer as { code?: string }).code}: ${answer.message}`
        : answer.choices[0]?.message.content,
    ).toBe("Echo: once more");
    expect(provider.events.filter((e) => e.type === "session-open").length).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
