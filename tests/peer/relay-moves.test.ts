import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { CONNECTING_WINDOWS } from "../../client/sdk/session-opener";
import { flat, provider as rawProvider, startServer } from "../signaling/helpers";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Moves of a relayed session (its frames carried by the signaling server, no WebRTC): the
 * requester's handshake hello is a frame the server acks, and a move must cut a send still
 * waiting for that ack, as it cuts a direct channel still connecting. On the relay the provider
 * is first heard in its handshake reply, so until then the session is still connecting: that
 * wait is the connecting stage, bounded across the server's moves (CONNECTING_WINDOWS), not a
 * fresh handshake deadline per move.
 */
const proxies: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of proxies.splice(0)) await m.close();
  await closeMitmNetworks();
});

const CONNECTING_MS = 3_000;
/** How long after each grant or move the servers below move the session on: under the deadline. */
const MOVE_AFTER_MS = 2_000;

const isGrant = (m: MitmMessage) =>
  matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) &&
  typeof (m.args[0] as { sessionId?: unknown })?.sessionId === "string";
const sessionOf = (m: MitmMessage) => (m.args[0] as { sessionId?: unknown } | undefined)?.sessionId;

describe("a relayed request the server moves", () => {
  it("a lying server that carries none of its frames and moves it before each deadline: TIMEOUT within CONNECTING_WINDOWS connecting deadlines", async () => {
    // Each move followed started a fresh handshake deadline (the relay counted as connected at
    // once): all eight moves, then the last handshake's 10 s, 27 s in all here.
    const mitm = await mitmNetwork();
    await relayProvider(labelled(mitm.url, "p1"));
    const c = await relayClient(labelled(mitm.url, "requester"), {
      deadlines: { connecting: CONNECTING_MS },
    });
    let grant: Record<string, unknown> | undefined;
    const sessions: string[] = [];
    const framed = new Set<unknown>();
    let n = 0;
    mitm.use((m) => {
      if (m.party.label !== "requester" || !m.event.startsWith("session:")) return undefined;
      if (isGrant(m)) {
        grant = m.args[0] as Record<string, unknown>;
        sessions.push(grant.sessionId as string);
        return undefined;
      }
      if (m.event === "session:request" || m.event === "session:moved") return undefined;
      // Frames are never carried nor acked; the first frame on the newest session has the
      // session moved on a little before the requester's connecting deadline.
      if (m.direction !== "to-server") return null;
      const from = sessionOf(m);
      if (m.event !== "session:frame" || framed.has(from)) return null;
      framed.add(from);
      if (!grant || from !== sessions.at(-1)) return null;
      const to = { ...grant, sessionId: `movedrelay${String(n++).padStart(6, "0")}` };
      sessions.push(to.sessionId);
      const move: MitmMessage = {
        ...m,
        ack: undefined,
        direction: "to-party",
        kind: "event",
        event: "session:moved",
        args: [{ v: 1, sessionId: from, to }],
      };
      return new Promise((r) => setTimeout(() => r(move), MOVE_AFTER_MS));
    });
    const started = Date.now();
    const err = await ask(c).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    expect((err as Error).message).toContain(
      `bounded at ${CONNECTING_WINDOWS * CONNECTING_MS} ms across its moves`,
    );
    // Every move within the bound was followed (a hello on each session), and no more.
    expect(framed.size).toBeGreaterThan(2);
    expect(framed.size).toBeLessThanOrEqual(
      Math.floor((CONNECTING_WINDOWS * CONNECTING_MS) / MOVE_AFTER_MS) + 1,
    );
    // The grant comes at once; the bound runs from it (slack for a loaded machine).
    expect(took).toBeLessThan(CONNECTING_WINDOWS * CONNECTING_MS + 2_000);
  }, 60_000);

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

  it("an honest server's own failover (two offers unanswered) outlasts a handshake deadline shorter than its offer timeout: the third provider answers", async () => {
    // The provider is first heard through the relay in its reply: the wait for it is connecting,
    // bounded across the moves; it was the handshake's deadline (1.5 s here, before the first move).
    const { url } = await startServer({ offerTimeoutMs: MOVE_AFTER_MS });
    const silent = await Promise.all(
      [1n, 2n].map((nano) =>
        rawProvider(url, { models: [{ model: "test-model", price: flat(nano) }], answer: "silent" }),
      ),
    );
    const taker = await relayProvider(url);
    const c = await relayClient(url, { deadlines: { connecting: CONNECTING_MS, handshaking: 1_500 } });
    const answer = await ask(c, "who takes it?").catch((e: Error) => e);
    expect(answer instanceof Error ? answer.message : answer.choices[0]?.message.content).toBe(
      "Echo: who takes it?",
    );
    expect(silent.map((p) => p.offers.length)).toEqual([1, 1]);
    expect(taker.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 60_000);
});
