import { afterEach, describe, expect, it } from "vitest";
import { TamperedError } from "../../client/sdk/errors";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type MitmMessage, matches, type Stage } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A lying server relaying a session writes a frame of its own into it mid-answer. It cannot read
 * or alter the conversation (the frame fails authentication): the answer ends TAMPERED, and the
 * error names who carried the frames, the server, never the provider.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";

/** Right behind the provider's `nth` frame to the requester: one of the same size, every byte 7. */
function forgedFrameAfter(nth: number): Stage {
  let seen = 0;
  return (m: MitmMessage) => {
    if (!matches(m, { event: "session:frame", direction: "to-party", role: "requester" })) return undefined;
    if (++seen !== nth) return undefined;
    const relayed = m.args[0] as { sessionId: string; frame: Uint8Array };
    const frame = new Uint8Array(relayed.frame.byteLength).fill(7);
    return [m, { ...m, args: [{ ...relayed, frame }] }];
  };
}

describe("a frame the relaying server forged mid-answer", () => {
  it("ends the answer TAMPERED naming the server that relayed it; the provider is not blamed", async () => {
    // It said only "the session was tampered with in flight", naming nobody.
    const mitm = await mitmNetwork([forgedFrameAfter(6)]);
    await relayProvider(labelled(mitm.url, "p1"), {
      engine: new ScriptedEngine({ tokenDelayMs: 40, reply: () => LONG }),
    });
    const c = await relayClient(labelled(mitm.url, "requester"));
    const err = await ask(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TamperedError);
    expect((err as TamperedError).message).toContain(`relayed by the signaling server at ${mitm.url}`);
    expect((err as TamperedError).message).toContain("the provider is not blamed");
  }, 30_000);
});
