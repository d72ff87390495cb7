import { afterEach, describe, expect, it } from "vitest";
import { SignalingError } from "../../peer/signaling-client";
import { QUOTE_TTL_MS } from "../../protocol";
import { rewrite } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { matches } from "../support/mitm-signaling";
import { labelled, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A lying server's answer to a provider's registration: the intervals it names pace the
 * provider's own timers, so one no timer can hold, or one that contradicts the registration it
 * accepted, is unreadable, never obeyed.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

/**
 * A provider registering through a server whose ack says `lie` too: its start's error, and how
 * many `event`s it sent the server by `waitMs` later.
 */
async function registerThrough(lie: Record<string, unknown>, event: string, waitMs: number) {
  const mitm = await mitmNetwork([
    rewrite({ event: "provider:register", kind: "ack", direction: "to-party" }, ([ack]) => [
      { ...(ack as object), ...lie },
    ]),
  ]);
  const err = await relayProvider(labelled(mitm.url, "p1")).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, waitMs));
  const sent = mitm.log.filter((m) => matches(m, { event, direction: "to-server" })).length;
  expect(err).toBeInstanceOf(SignalingError);
  expect((err as SignalingError).code).toBe("SERVER_MALFORMED");
  expect((err as Error).message).toContain(mitm.url);
  expect((err as Error).message).toContain("provider:register");
  return { err: err as SignalingError, sent };
}

describe("a lying server's registration ack", () => {
  it("a heartbeat interval past what a timer holds (2^32 ms): the registration fails SERVER_MALFORMED naming the server; no heartbeat flood", async () => {
    // Node (and browsers) run a timer past 2^31-1 ms after 1 ms: the provider obeyed, and sent
    // the server a heartbeat every millisecond (818 in a second) for as long as it stayed up.
    const { sent } = await registerThrough({ heartbeatIntervalMs: 2 ** 32 }, "provider:heartbeat", 1_000);
    expect(sent).toBe(0);
  }, 30_000);

  it("a quote margin as long as the quotes' life, which it accepted: SERVER_MALFORMED naming the server; no registration loop", async () => {
    // An honest server refuses such quotes (QUOTE_TOO_SHORT). The provider obeyed, and registered
    // again every second (its least renewal delay) for as long as it stayed up.
    const { err, sent } = await registerThrough({ quoteMarginMs: QUOTE_TTL_MS }, "provider:register", 2_500);
    expect(sent).toBe(1);
    expect(err.message).toContain("quote margin");
  }, 30_000);
});
