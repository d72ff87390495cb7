import { afterEach, describe, expect, it } from "vitest";
import type { WebRtcLink } from "../../peer/webrtc-link";
import {
  acceptSession,
  generateKeyPair,
  InvalidSignatureError,
  initiateSession,
  type SessionMessage,
} from "../../protocol";
import { webrtcPair } from "../support/webrtc-pair";

const links: WebRtcLink[] = [];
afterEach(() => {
  for (const l of links.splice(0)) l.close();
});

async function linkPair(rewrite?: Parameters<typeof webrtcPair>[0]) {
  const pair = await webrtcPair(rewrite);
  links.push(pair.requester, pair.provider);
  return pair;
}

describe("WebRTC link (Node, @roamhq/wrtc)", () => {
  it("connects on loopback, agrees on fingerprints, and carries an encrypted session", async () => {
    const { requester, provider } = await linkPair();
    expect(requester.fingerprints()).toEqual(provider.fingerprints());

    const identity = generateKeyPair();
    const base = { sessionId: "w1", ...requester.fingerprints() };
    const [r, p] = await Promise.all([
      initiateSession(requester, {
        sessionId: "w1",
        requesterFingerprint: base.requester,
        providerFingerprint: base.provider,
        providerIdentity: identity.publicKey,
        sessionKey: generateKeyPair(),
      }),
      acceptSession(provider, {
        sessionId: "w1",
        requesterFingerprint: provider.fingerprints().requester,
        providerFingerprint: provider.fingerprints().provider,
        identity,
      }),
    ]);
    const got: SessionMessage[] = [];
    const all = new Promise<void>((resolve) =>
      p.onMessage((m) => {
        got.push(m);
        if (got.length === 3) resolve();
      }),
    );
    const big = "y".repeat(200_000);
    await r.send({ v: 1, t: "cancel", id: "a" });
    await r.send({ v: 1, t: "request", id: "b", model: "m", messages: [{ role: "user", content: big }] });
    await r.send({ v: 1, t: "cancel", id: "c" });
    await all;
    expect(got.map((m) => m.t)).toEqual(["cancel", "request", "cancel"]);
    expect(got[1]?.t === "request" && got[1].messages[0]?.content?.length).toBe(200_000);
  });

  it("catches a signaling server that rewrites a DTLS fingerprint", async () => {
    // A server in the middle must terminate DTLS on each side with its own certificate, so each
    // peer's SDP shows the server's fingerprint in place of the other's. The provider is given
    // such a view here; the handshake must fail.
    const { requester, provider } = await linkPair();
    const identity = generateKeyPair();
    const seenByProvider = provider.fingerprints();
    const r = initiateSession(requester, {
      sessionId: "w2",
      requesterFingerprint: requester.fingerprints().requester,
      providerFingerprint: requester.fingerprints().provider,
      providerIdentity: identity.publicKey,
      sessionKey: generateKeyPair(),
    });
    const p = acceptSession(provider, {
      sessionId: "w2",
      requesterFingerprint: `sha-256 ${"AB:".repeat(31)}AB`,
      providerFingerprint: seenByProvider.provider,
      identity,
    });
    await expect(r).rejects.toBeInstanceOf(InvalidSignatureError);
    await p.catch(() => undefined);
  });

  it("reports a close to the other side", async () => {
    const { requester, provider } = await linkPair();
    const closed = new Promise<void>((resolve) => provider.inbox.onEnd(() => resolve()));
    requester.close();
    await closed;
  });
});
