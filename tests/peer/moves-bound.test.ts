import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { CONNECTING_WINDOWS } from "../../client/sdk/session-opener";
import { flat, provider as rawProvider, startServer } from "../signaling/helpers";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type MitmMessage, matches } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A lying signaling server can move a session (`session:moved`) just before its connecting
 * deadline runs out, again and again: each move started the deadline afresh, so one request was
 * held MAX_MOVES + 1 deadlines (9 x 15 s by default). The connecting stage is now bounded across
 * the moves of one grant (CONNECTING_WINDOWS deadlines). Real server behind a proxy holding its
 * key (the moves are the server's own word), real provider, the requester's session traffic
 * withheld so no channel ever forms.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const CONNECTING_MS = 3_000;
/** How long after each grant or move the server moves the session on: under the deadline. */
const MOVE_AFTER_MS = 2_000;

/** Direct WebRTC: a move cuts the channel still connecting (on the relay, the handshake's deadline runs on). */
const direct = { forceRelay: false, wrtc };

const isGrant = (m: MitmMessage) =>
  matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) &&
  typeof (m.args[0] as { sessionId?: unknown })?.sessionId === "string";

describe("a server that moves the session just before each connecting deadline", () => {
  it("holds the request at most CONNECTING_WINDOWS connecting deadlines: TIMEOUT naming the bound, a channel per move within it", async () => {
    // It used to follow all eight moves, each with a fresh deadline: nine channels, and the
    // request ended after 19 s here (the bound is 9 s).
    const mitm = await mitmNetwork();
    await relayProvider(labelled(mitm.url, "p1"), direct);
    const c = await relayClient(labelled(mitm.url, "requester"), {
      ...direct,
      deadlines: { connecting: CONNECTING_MS },
    });
    let grant: Record<string, unknown> | undefined;
    const sessions: string[] = [];
    const signalled = new Set<unknown>();
    let n = 0;
    mitm.use((m) => {
      if (m.party.label !== "requester" || !m.event.startsWith("session:")) return undefined;
      if (isGrant(m)) {
        grant = m.args[0] as Record<string, unknown>;
        sessions.push(grant.sessionId as string);
        return undefined;
      }
      if (m.event === "session:request" || m.event === "session:moved") return undefined;
      const sessionId = (m.args[0] as { sessionId?: unknown })?.sessionId;
      if (m.direction === "to-server") signalled.add(sessionId);
      // The first word from the requester on its newest session: withheld, and the session moved
      // on a little before the requester's deadline; everything else about sessions is withheld.
      if (m.direction !== "to-server" || !grant || sessionId !== sessions.at(-1)) return null;
      const from = sessionId;
      const to = { ...grant, sessionId: `movedsession${String(n++).padStart(6, "0")}` };
      sessions.push(to.sessionId);
      const move: MitmMessage = {
        ...m,
        direction: "to-party",
        kind: "event",
        event: "session:moved",
        args: [{ v: 1, sessionId: from, to }],
      };
      return new Promise((r) => setTimeout(() => r(move), MOVE_AFTER_MS));
    });
    const err = await ask(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    // A channel per session the requester signalled on: the grant's and each move's it followed,
    // a move at most every MOVE_AFTER_MS within the bound.
    expect(signalled.size).toBeGreaterThan(1);
    expect(signalled.size).toBeLessThanOrEqual(
      Math.floor((CONNECTING_WINDOWS * CONNECTING_MS) / MOVE_AFTER_MS) + 1,
    );
    expect((err as Error).message).toContain(
      `bounded at ${CONNECTING_WINDOWS * CONNECTING_MS} ms across its moves`,
    );
  }, 60_000);

  it("an honest server's own failover (two offers unanswered, the third taken) still fits the bound", async () => {
    // The first move comes after two thirds of the connecting deadline, the second after four
    // thirds: past one deadline, within CONNECTING_WINDOWS of them.
    const { url } = await startServer({ offerTimeoutMs: MOVE_AFTER_MS });
    const silent = await Promise.all(
      [1n, 2n].map((nano) =>
        rawProvider(url, { models: [{ model: "test-model", price: flat(nano) }], answer: "silent" }),
      ),
    );
    const taker = await relayProvider(url, direct);
    const c = await relayClient(url, { ...direct, deadlines: { connecting: CONNECTING_MS } });
    const answer = await ask(c, "who takes it?");
    expect(answer.choices[0]?.message.content).toBe("Echo: who takes it?");
    expect(silent.map((p) => p.offers.length)).toEqual([1, 1]);
    expect(taker.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 60_000);
});
