import { afterEach, describe, expect, it } from "vitest";
import { SignalingError } from "../../peer/signaling-client";
import { rewrite } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { matches } from "../support/mitm-signaling";
import { labelled, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A lying server's answer to a provider's registration: the heartbeat interval it names paces the
 * provider's own timers, so one no timer can hold is unreadable, never obeyed.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

describe("a lying server's registration ack", () => {
  it("a heartbeat interval past what a timer holds (2^32 ms): the registration fails SERVER_MALFORMED naming the server; no heartbeat flood", async () => {
    // Node (and browsers) run a timer past 2^31-1 ms after 1 ms: the provider obeyed, and sent
    // the server a heartbeat every millisecond for as long as it stayed registered.
    const mitm = await mitmNetwork([
      rewrite({ event: "provider:register", kind: "ack", direction: "to-party" }, ([ack]) => [
        { ...(ack as object), heartbeatIntervalMs: 2 ** 32 },
      ]),
    ]);
    const err = await relayProvider(labelled(mitm.url, "p1")).catch((e: unknown) => e);
    const heartbeats = () =>
      mitm.log.filter((m) => matches(m, { event: "provider:heartbeat", direction: "to-server" })).length;
    // What a provider that took the interval sends in a second (at most 2: its load, then none).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(heartbeats()).toBeLessThanOrEqual(2);
    expect(err).toBeInstanceOf(SignalingError);
    expect((err as SignalingError).code).toBe("SERVER_MALFORMED");
    expect((err as Error).message).toContain(mitm.url);
    expect((err as Error).message).toContain("provider:register");
  }, 30_000);
});
