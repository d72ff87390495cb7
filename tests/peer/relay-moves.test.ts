import { afterEach, describe, expect, it } from "vitest";
import { flat, provider as rawProvider, startServer } from "../signaling/helpers";
import { closeMitmNetworks } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Moves of a relayed session (its frames carried by the signaling server, no WebRTC): the
 * requester's handshake hello is a frame the server acks, and a move must cut a send still
 * waiting for that ack, as it cuts a direct channel still connecting.
 */
const proxies: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of proxies.splice(0)) await m.close();
  await closeMitmNetworks();
});

/** How long after each grant or move the servers below move the session on: under the deadline. */
const MOVE_AFTER_MS = 2_000;

const isGrant = (m: MitmMessage) =>
  matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) &&
  typeof (m.args[0] as { sessionId?: unknown })?.sessionId === "string";
const sessionOf = (m: MitmMessage) => (m.args[0] as { sessionId?: unknown } | undefined)?.sessionId;

describe("a relayed request the server moves", () => {
  it("an honest server moves it while its hello is stalled on the way (never acked): the provider moved to answers", async () => {
    // The hello's send awaited the ack the stalled path never brought: the move did not cut it,
    // and the request ended TIMEOUT at the handshake's deadline.
    const { url } = await startServer({ offerTimeoutMs: MOVE_AFTER_MS });
    const silent = await rawProvider(url, {
      models: [{ model: "test-model", price: flat(1n) }],
      answer: "silent",
    });
    const taker = await relayProvider(url);
    const mitm = await startMitm(url, []);
    proxies.push(mitm);
    let first: unknown;
    mitm.use((m) => {
      if (isGrant(m) && first === undefined) first = sessionOf(m);
      const stalled = m.direction === "to-server" && m.event === "session:frame" && sessionOf(m) === first;
      return stalled ? null : undefined;
    });
    const c = await relayClient(labelled(mitm.url, "requester"));
    const started = Date.now();
    const answer = await ask(c, "moved on").catch((e: Error) => e);
    const took = Date.now() - started;
    expect(answer instanceof Error ? answer.message : answer.choices[0]?.message.content).toBe(
      "Echo: moved on",
    );
    expect(silent.offers).toHaveLength(1);
    expect(taker.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    // Answered soon after the move, not after a handshake deadline.
    expect(took).toBeLessThan(8_000);
  }, 60_000);
});
