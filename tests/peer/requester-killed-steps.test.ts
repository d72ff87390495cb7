import { afterEach, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { killAfter } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import type { Match } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The unlucky user's own connection dies (killed as a closed tab's would be) at each step of a
 * relayed request, with one provider of one place. The SDK comes back and the answer arrives; the
 * provider's engine and place are freed; and once that requester leaves, the next one is served
 * at once. Before, the server kept counting the provider's last heartbeat load after the session
 * ended, so the next requester was refused ALL_BUSY (every step, on the old code).
 */
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
const DEADLINES = { requested: 5_000, connecting: 3_000, handshaking: 3_000, account: 3_000, frame: 2_000 };

afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const fromRequester = (event: string): Match => ({ event, direction: "to-server", label: "requester" });
const STEPS: { step: string; at: Match; after: number }[] = [
  { step: "the request on its way", at: fromRequester("session:request"), after: 0 },
  {
    step: "the grant on its way",
    at: { event: "session:request", kind: "ack", direction: "to-party", label: "requester" },
    after: 0,
  },
  { step: "the handshake's first frame", at: fromRequester("session:frame"), after: 0 },
  { step: "the base receipt", at: fromRequester("session:frame"), after: 1 },
  { step: "the request itself", at: fromRequester("session:frame"), after: 2 },
  { step: "a receipt mid-answer", at: fromRequester("session:frame"), after: 4 },
];

describe("the requester's connection killed at each step of a request", () => {
  it.each(STEPS)(
    "$step: answered, the place freed, the next requester served at once",
    async ({ at, after }) => {
      const mitm = await mitmNetwork([killAfter(after, at)]);
      const p = await relayProvider(labelled(mitm.url, "provider"), {
        capacity: 1,
        engine: new ScriptedEngine({ tokenDelayMs: 30, reply: () => LONG }),
      });
      const client = await relayClient(labelled(mitm.url, "requester"), {
        deadlines: DEADLINES,
        receiptEvery: 2,
      });
      const answer = (await ask(client)) as ChatCompletion;
      expect(mitm.log.some((m) => m.party.killed && m.party.label === "requester")).toBe(true);
      // Mid-answer it goes on with what came so far (the scripted double starts its reply again).
      expect(answer.choices[0]?.message.content?.endsWith(LONG)).toBe(true);
      await expect.poll(() => p.engine.activeGenerations, { timeout: 10_000 }).toBe(0);
      await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);

      client.close();
      const next = await relayClient(labelled(mitm.url, "next"), { escrow: `0:${"12".repeat(32)}` });
      const served = (await ask(next)) as ChatCompletion;
      expect(served.choices[0]?.message.content).toBe(LONG);
    },
    60_000,
  );
});
