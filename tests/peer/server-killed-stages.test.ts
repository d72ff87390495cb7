import { afterEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { SignalingError } from "../../peer/signaling-client";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { type NodeProcess, startNode } from "../signaling/node-process";
import { type Match, type Mitm, matches, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The unlucky user: the signaling process is killed (SIGKILL, nothing said to anyone) at each
 * step of a relayed request, when one message reaches the proxy in front of it (the message is
 * not delivered). Started again on the same port, the request is answered; killed for good, it
 * ends with a typed error within its deadlines. Before, a request whose link dropped while it was
 * being placed asked the node come back at once and ended NO_MODEL (its provider still
 * registering again), though a failover waits for that.
 */
const DEADLINES = { requested: 4_000, connecting: 3_000, handshaking: 3_000, account: 3_000, frame: 2_000 };
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
/** Well over the deadlines a request passes through, plus a node's restart, on a loaded machine. */
const BOUND_MS = 45_000;

let node: NodeProcess | undefined;
let mitm: Mitm | undefined;
afterEach(async () => {
  stopAll();
  await mitm?.close();
  await node?.kill();
});

const fromProvider: Match = { event: "session:frame", direction: "to-server", role: "provider" };
const STEPS: { step: string; at: Match; after: number }[] = [
  { step: "the request on its way", at: { event: "session:request", direction: "to-server" }, after: 0 },
  {
    step: "the grant on its way",
    at: { event: "session:request", direction: "to-party", kind: "ack" },
    after: 0,
  },
  { step: "the offer", at: { event: "session:offer", direction: "to-party" }, after: 0 },
  {
    step: "the provider's yes",
    at: { event: "session:offer", direction: "to-server", kind: "ack" },
    after: 0,
  },
  { step: "the handshake", at: fromProvider, after: 0 },
  { step: "the account", at: fromProvider, after: 1 },
  { step: "mid-answer", at: fromProvider, after: 4 },
];

/** A node, the proxy that kills it at `at` (and starts it again after `downMs`, unless undefined). */
async function network(at: Match, after: number, downMs: number | undefined) {
  const first = await startNode({});
  node = first;
  let seen = 0;
  let killed = false;
  mitm = await startMitm(first.url, [
    (m) => {
      if (killed || !matches(m, at) || ++seen <= after) return undefined;
      killed = true;
      return first.kill().then(async () => {
        if (downMs === undefined) return null;
        await new Promise((r) => setTimeout(r, downMs));
        node = await startNode({ PORT: String(first.port) });
        return null;
      });
    },
  ]);
  const proxy = mitm.url;
  await relayProvider(labelled(proxy, "provider"), {
    engine: new ScriptedEngine({ tokenDelayMs: 30, reply: () => LONG }),
  });
  return { proxy, killed: () => killed };
}

describe("the signaling server killed at each step of a relayed request", () => {
  it.each(STEPS)(
    "$step, then started again: the request is answered",
    async ({ at, after }) => {
      const { proxy, killed } = await network(at, after, 300);
      const client = await relayClient(labelled(proxy, "requester"), {
        deadlines: { ...DEADLINES, requested: 15_000 },
        queueTimeoutMs: 15_000,
      });
      const answer = (await ask(client)) as ChatCompletion;
      expect(killed()).toBe(true);
      // Mid-answer it moves on with what came so far (the scripted double starts its reply again).
      expect(answer.choices[0]?.message.content?.endsWith(LONG)).toBe(true);
      // Each dial the proxy took while the node was down came and went: the client subscribed to
      // the directory again once after them (twice at most), not once per dial on the connection
      // that stayed (up to a dozen, on the old code).
      const subscribes = new Map<number, number>();
      for (const m of mitm?.log ?? [])
        if (m.party.label === "requester" && m.event === "directory:subscribe" && m.kind === "event")
          subscribes.set(m.party.id, (subscribes.get(m.party.id) ?? 0) + 1);
      expect(Math.max(...subscribes.values())).toBeLessThanOrEqual(2);
    },
    90_000,
  );

  // Gone for good, at a few steps (each ended typed on the old code too: kept so it stays so).
  it.each(
    STEPS.filter((s) => ["the request on its way", "the provider's yes", "mid-answer"].includes(s.step)),
  )(
    "$step, for good: a typed error within the deadlines",
    async ({ at, after }) => {
      const { proxy, killed } = await network(at, after, undefined);
      const client = await relayClient(labelled(proxy, "requester"), {
        deadlines: DEADLINES,
        queueTimeoutMs: 3_000,
      });
      const ended = await Promise.race([
        ask(client).catch((e: unknown) => e),
        new Promise((r) => setTimeout(() => r("still waiting"), BOUND_MS)),
      ]);
      expect(killed()).toBe(true);
      expect(ended instanceof ProviderError || ended instanceof SignalingError).toBe(true);
    },
    90_000,
  );
});
