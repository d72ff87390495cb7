import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import type { Wrtc } from "../../peer/webrtc-link";
import { generateKeyPair } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";
import { startTurn, type TurnProcess } from "../support/turn-server";

/**
 * A session through a TURN relay the signaling server names in its grant (and in its offer to the
 * provider), with its credentials: a real coturn on loopback, real WebRTC (@roamhq/wrtc) on both
 * sides told to use relayed candidates only (`iceTransportPolicy: "relay"`, as a network that lets
 * no direct UDP through would leave them). The data channel still opens, so the session is not
 * carried by the signaling server; every candidate either side sent is a TURN relay's.
 */
let turn: TurnProcess | undefined;
let mitm: Mitm | undefined;
afterEach(async () => {
  stopAll();
  await mitm?.close();
  mitm = undefined;
  await cleanup();
  await turn?.stop();
  turn = undefined;
});

/** @roamhq/wrtc whose peer connections gather relayed candidates only, whatever else they are told. */
function relayOnly(): Wrtc {
  const Native = wrtc.RTCPeerConnection;
  class RelayOnlyPeerConnection extends Native {
    constructor(config?: RTCConfiguration) {
      super({ ...config, iceTransportPolicy: "relay" });
    }
  }
  return { ...wrtc, RTCPeerConnection: RelayOnlyPeerConnection } as unknown as Wrtc;
}

/** The candidate lines the server carried to `role`, from the signals it relayed. */
function candidatesTo(m: Mitm, role: "provider" | "requester"): string[] {
  return m.log
    .filter((x) => x.event === "session:signal" && x.direction === "to-party" && x.party.role === role)
    .map((x) => (x.args[0] as { data?: { candidate?: { candidate?: string } } }).data?.candidate?.candidate)
    .filter((c): c is string => typeof c === "string" && c.length > 0);
}

async function network(iceServers: { urls: string[]; username: string; credential: string }[]) {
  const { url } = await startServer({ serverKey: generateKeyPair().secretKey, iceServers });
  mitm = await startMitm(url);
  const engine = new ScriptedEngine({ models: ["test-model"], reply: () => "through the relay" });
  const provider = await relayProvider(labelled(mitm.url, "provider"), {
    engine,
    forceRelay: false,
    wrtc: relayOnly(),
  });
  const client = await relayClient(labelled(mitm.url, "requester"), { forceRelay: false, wrtc: relayOnly() });
  return { provider, client, mitm };
}

describe("a session through the TURN server the grant names", () => {
  it("with relayed candidates only, the data channel opens through coturn and the answer arrives whole", async () => {
    turn = await startTurn();
    const { provider, client, mitm } = await network([turn.iceServer]);
    const answer = await ask(client, "hello");
    expect(answer.choices[0]?.message.content).toBe("through the relay");
    expect(provider.events.find((e) => e.type === "session-open")).toMatchObject({ path: "direct" });
    for (const role of ["provider", "requester"] as const) {
      const candidates = candidatesTo(mitm, role);
      expect(candidates.length, `candidates sent to the ${role}`).toBeGreaterThan(0);
      for (const c of candidates) expect(c).toMatch(/ typ relay /);
    }
  }, 60_000);
});
