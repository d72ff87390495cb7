import { describe, expect, it } from "vitest";
import { type ChoiceEffect, type ChoiceEvent, type ChoicePhase, choose } from "../../peer/channel-choice";

/** connectPeer's choice of channel as a table: phase and event in, phase and effects out. */
const up: ChoiceEvent = { type: "direct-up", bound: true };
const unbound: ChoiceEvent = { type: "direct-up", bound: false };
const failed: ChoiceEvent = { type: "direct-failed" };
const peerRelay: ChoiceEvent = { type: "peer-relay" };
const ended: ChoiceEvent = { type: "ended", bySignaling: false };
const signalingGone: ChoiceEvent = { type: "ended", bySignaling: true };
const serverSays: ChoiceEvent = { type: "ended", bySignaling: false, probeable: true };

const rows: [string, ChoicePhase, ChoiceEvent, ChoicePhase, ChoiceEffect[]][] = [
  ["the data channel opens with both fingerprints", "trying", up, "direct", ["disarm", "use-direct"]],
  [
    "it opens but the fingerprints cannot be read: relay, never pending",
    "trying",
    unbound,
    "relay",
    ["disarm", "close-link", "tell-relay", "use-relay"],
  ],
  [
    "WebRTC fails or times out",
    "trying",
    failed,
    "relay",
    ["disarm", "close-link", "tell-relay", "use-relay"],
  ],
  ["the other side asks for the relay", "trying", peerRelay, "relay", ["disarm", "close-link", "use-relay"]],
  [
    "the server ends or moves it first",
    "trying",
    ended,
    "stopped",
    ["disarm", "end-relay", "close-link", "fail"],
  ],
  [
    "signaling drops before a channel: fails too",
    "trying",
    signalingGone,
    "stopped",
    ["disarm", "end-relay", "close-link", "fail"],
  ],
  [
    "a direct channel outlives signaling, and its owner hears the server no longer counts it",
    "direct",
    signalingGone,
    "direct",
    ["outlived"],
  ],
  ["the server ends a direct session", "direct", ended, "stopped", ["end-relay", "close-link"]],
  ["the server ends a secured direct session: the peer is asked", "direct", serverSays, "direct", ["probe"]],
  [
    "the server ends a relayed session: believed (it carries it)",
    "relay",
    serverSays,
    "stopped",
    ["end-relay", "close-link"],
  ],
  [
    "the server ends it before a channel: believed",
    "trying",
    serverSays,
    "stopped",
    ["disarm", "end-relay", "close-link", "fail"],
  ],
  ["the server ends a relayed one", "relay", signalingGone, "stopped", ["end-relay", "close-link"]],
  ["a late WebRTC success after the relay changes nothing", "relay", up, "relay", []],
  ["a late failure after the direct channel changes nothing", "direct", failed, "direct", []],
  ["the relay asked for twice is taken once", "relay", peerRelay, "relay", []],
  ["nothing after the end", "stopped", up, "stopped", []],
];

describe("channel choice", () => {
  it.each(rows)("%s", (_name, phase, event, next, effects) => {
    expect(choose(phase, event)).toEqual({ phase: next, effects });
  });

  it("settles exactly once, whatever order the link and the server report in", () => {
    const events = [up, unbound, failed, peerRelay, ended, signalingGone, serverSays];
    for (const a of events)
      for (const b of events)
        for (const c of events) {
          let phase: ChoicePhase = "trying";
          let settles = 0;
          for (const e of [a, b, c]) {
            const step = choose(phase, e);
            phase = step.phase;
            settles += step.effects.filter(
              (x) => x === "use-direct" || x === "use-relay" || x === "fail",
            ).length;
          }
          expect(settles).toBe(1);
        }
  });
});
