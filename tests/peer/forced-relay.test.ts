import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type MitmMessage, matches } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that forces its own relay on two peers that could talk directly (both on
 * real WebRTC, @roamhq/wrtc): it carries their SDP but drops every ICE candidate, so no direct
 * path is found and both fall back to sending their frames through it. It then carries the whole
 * conversation, and must see none of it: every frame is sealed end to end to the provider key the
 * requester checked.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const SECRET = "the password is swordfish 8812";
const REPLY = "noted: the vault opens at dawn";

const isCandidate = (m: MitmMessage) =>
  matches(m, { event: "session:signal", direction: "to-party" }) &&
  typeof (m.args[0] as { data?: { candidate?: unknown } }).data?.candidate === "object";

describe("a server that drops every ICE candidate to force its relay", () => {
  it("the answer arrives whole over the relay, and nothing the server carried holds the prompt or the answer", async () => {
    const mitm = await mitmNetwork([(m) => (isCandidate(m) ? null : undefined)]);
    const engine = new ScriptedEngine({ models: ["test-model"], reply: () => REPLY });
    const p = await relayProvider(labelled(mitm.url, "provider"), { engine, forceRelay: false, wrtc });
    const c = await relayClient(labelled(mitm.url, "requester"), { forceRelay: false, wrtc });
    const answer = await ask(c, SECRET);
    expect(answer.choices[0]?.message.content).toBe(REPLY);
    expect(p.events.find((e) => e.type === "session-open")).toMatchObject({ path: "relay" });
    const frames = mitm.log.filter((m) => m.event === "session:frame" && m.kind === "event");
    expect(frames.length).toBeGreaterThan(3);
    // Everything the server was sent or sent on, frames and events alike, as bytes and as text.
    const carried = mitm.log
      .flatMap((m) => m.args)
      .map((a) =>
        Buffer.from(
          JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v)),
        ),
      )
      .concat(frames.map((m) => Buffer.from((m.args[0] as { frame: Uint8Array }).frame)));
    const all = Buffer.concat(carried).toString("latin1");
    // The scan reads what the server saw: the model it was asked for is there in the clear.
    expect(all).toContain("test-model");
    for (const word of ["swordfish", "vault", "password", "dawn"]) expect(all).not.toContain(word);
  }, 60_000);
});
