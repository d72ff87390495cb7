import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { HandshakeFailedError } from "../../client/sdk/errors";
import { WebRtcLink } from "../../peer/webrtc-link";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that puts itself in the middle of the direct channel: it answers the
 * requester's offer with a WebRTC peer of its own, offers the provider another, and bridges the
 * two data channels byte for byte (real @roamhq/wrtc on all four ends). Each side's DTLS is with
 * the server, so each sees the server's fingerprint; Silk's handshake binds the fingerprints each
 * side saw and the provider's key, so it fails, and nothing of the prompt crosses the bridge.
 */
const links: WebRtcLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  stopAll();
  await closeMitmNetworks();
});

const SECRET = "the password is swordfish 8812";

/** Terminates every session's WebRTC on both sides and bridges the channels; `bridged` sees each frame. */
function dtlsBridge(mitm: Mitm, bridged: Uint8Array[]) {
  const pairs = new Map<string, { toRequester: WebRtcLink; toProvider: WebRtcLink }>();
  const party = (role: "requester" | "provider") => mitm.parties.find((p) => p.role === role && !p.killed);
  const pairFor = (sessionId: string) => {
    const known = pairs.get(sessionId);
    if (known) return known;
    const to = (role: "requester" | "provider") => (data: Record<string, unknown>) =>
      void party(role)?.inject("session:signal", { v: 1, sessionId, data });
    const toRequester = new WebRtcLink({
      initiator: false,
      iceServers: [],
      wrtc,
      sendSignal: to("requester"),
    });
    const toProvider = new WebRtcLink({ initiator: true, iceServers: [], wrtc, sendSignal: to("provider") });
    links.push(toRequester, toProvider);
    Promise.all([toRequester.waitConnected(20_000), toProvider.waitConnected(20_000)]).then(
      () => {
        const bridge = (from: WebRtcLink, into: WebRtcLink) =>
          from.inbox.read((f) => {
            bridged.push(f);
            Promise.resolve(into.send(f)).catch(() => undefined);
          });
        bridge(toRequester, toProvider);
        bridge(toProvider, toRequester);
      },
      () => undefined,
    );
    const pair = { toRequester, toProvider };
    pairs.set(sessionId, pair);
    return pair;
  };
  return (m: MitmMessage) => {
    if (!matches(m, { event: "session:signal", direction: "to-party" })) return undefined;
    const { sessionId, data } = m.args[0] as { sessionId: string; data: Record<string, unknown> };
    if ("silk" in data) return undefined;
    const pair = pairFor(sessionId);
    // What the requester sent is fed to the server's peer facing it, and the provider's likewise.
    (m.party.role === "provider" ? pair.toRequester : pair.toProvider).signal(data);
    return null;
  };
}

describe("a server bridging the direct channel through WebRTC peers of its own (a DTLS man in the middle)", () => {
  it("the handshake fails (BAD_SIGNATURE, fingerprints swapped), nobody is excluded, no answer is made, and nothing the bridge carried holds the prompt", async () => {
    const bridged: Uint8Array[] = [];
    const mitm = await mitmNetwork();
    mitm.use(dtlsBridge(mitm, bridged));
    const engine = new ScriptedEngine({ models: ["test-model"], reply: () => "the vault opens at dawn" });
    const p = await relayProvider(labelled(mitm.url, "provider"), { engine, forceRelay: false, wrtc });
    const c = await relayClient(labelled(mitm.url, "requester"), { forceRelay: false, wrtc });
    const err = await ask(c, SECRET).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    expect((err as HandshakeFailedError).code).toBe("BAD_SIGNATURE");
    expect((err as Error).message).toContain("fingerprints swapped in flight");
    // Not the provider's fault: asked once, nobody excluded.
    const requests = mitm.log.filter(
      (m) => m.event === "session:request" && m.direction === "to-server" && m.kind === "event",
    );
    expect(requests.map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? [])).toEqual([[]]);
    expect(p.events.filter((e) => e.type === "session-open")).toEqual([]);
    expect(engine.generatedTokens).toBe(0);
    expect(bridged.length).toBeGreaterThan(0);
    const all = Buffer.concat(bridged.map((f) => Buffer.from(f))).toString("latin1");
    for (const word of ["swordfish", "password", "vault"]) expect(all).not.toContain(word);
  }, 60_000);
});
