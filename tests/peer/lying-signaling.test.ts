import { afterEach, describe, expect, it } from "vitest";
import { flatPrice } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, type MitmMessage, matches, type Stage, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that lies, as an attacker would run one: it may deny service, never read or
 * alter a conversation, steer the requester to a provider it did not choose, or end a session it
 * does not carry. Each case checks what a user would (the answer, on the session it was asked on).
 */
const REQUESTER_DEADLINES = { frame: 3_000, account: 4_000, handshaking: 4_000 };
const PROVIDER_DEADLINES = { keepalive: 300, account: 6_000, handshaking: 6_000 };
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
const OTHER_PAYOUT = `0:${"33".repeat(32)}`;

const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

async function network(stages: Stage[] = []) {
  const { url } = await startServer();
  const mitm = await startMitm(url, stages);
  mitms.push(mitm);
  return mitm;
}

async function provider(mitm: Mitm, label: string, model = "test-model", payout?: string) {
  const engine = new ScriptedEngine({ models: [model], tokenDelayMs: 120, reply: () => LONG });
  const p = await relayProvider(labelled(mitm.url, label), {
    engine,
    deadlines: PROVIDER_DEADLINES,
    models: [{ model, price: flatPrice(10n) }],
    ...(payout && { payout }),
  });
  return { ...p, engine };
}

const client = (mitm: Mitm) =>
  relayClient(labelled(mitm.url, "requester"), { deadlines: REQUESTER_DEADLINES });

const isGrant = (m: MitmMessage) =>
  matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) &&
  typeof (m.args[0] as { sessionId?: unknown })?.sessionId === "string";

/** A message of the proxy's own to the same party, delivered right behind `m`. */
const forged = (m: MitmMessage, event: string, payload: unknown): MitmMessage => ({
  party: m.party,
  direction: "to-party",
  kind: "event",
  event,
  args: [payload],
});

describe("a lying signaling server", () => {
  it("a session:moved to a live session's id (its grant replayed as a move target): ignored; the live answer arrives whole, on its session", async () => {
    // It used to be followed: the SDK made a channel for the live session's id, which took over
    // that session's relayed frames (or, refused, sent its end), so the live answer was lost.
    const mitm = await network();
    const a = await provider(mitm, "p1");
    const c = await client(mitm);
    expect((await ask(c, "first")).choices[0]?.message.content).toBe(LONG);
    const live = mitm.log.find(isGrant)?.args[0] as { sessionId: string };
    // Another model, served by another provider, needs a second session; its grant is followed,
    // in the same read, by a forged move of it to the live session.
    const b = await provider(mitm, "p2", "other-model", OTHER_PAYOUT);
    mitm.use((m) => {
      if (!isGrant(m)) return undefined;
      const { sessionId } = m.args[0] as { sessionId: string };
      if (sessionId === live.sessionId) return undefined;
      return [m, forged(m, "session:moved", { v: 1, sessionId, to: live })];
    });
    const answer = ask(c, "again");
    await expect.poll(() => a.engine.activeGenerations, { timeout: 10_000 }).toBe(1);
    const other = await ask(c, "elsewhere", { model: "other-model" });
    expect(other.choices[0]?.message.content).toBe(LONG);
    const again = await answer;
    expect(again.choices[0]?.message.content).toBe(LONG);
    expect(again.usage?.silk?.failovers ?? 0).toBe(0);
    // Both of the live session's answers were made and finished on it, and it is still open.
    expect(a.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(a.events.filter((e) => e.type === "request-done")).toHaveLength(2);
    expect(a.events.filter((e) => e.type === "session-failed" || e.type === "session-closed")).toEqual([]);
    expect(b.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    expect((await ask(c, "still")).choices[0]?.message.content).toBe(LONG);
    expect(a.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 40_000);
});
