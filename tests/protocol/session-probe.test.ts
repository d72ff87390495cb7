import { describe, expect, it } from "vitest";
import {
  acceptSession,
  generateKeyPair,
  initiateSession,
  memoryPipe,
  type SecureSession,
  type SessionMessage,
} from "../../protocol";

/**
 * A probe (`ping`, answered `pong`) asks the peer over the encrypted session whether it is still
 * there: the check a requester makes when the signaling server says a direct session ended.
 */
async function pair(): Promise<[SecureSession, SecureSession]> {
  const identity = generateKeyPair();
  const sessionKey = generateKeyPair();
  const [a, b] = memoryPipe();
  const p = { sessionId: "s1", requesterFingerprint: "x", providerFingerprint: "y", timeoutMs: 2_000 };
  return Promise.all([
    initiateSession(a, { ...p, providerIdentity: identity.publicKey, sessionKey }),
    acceptSession(b, { ...p, identity, expectedSessionKey: sessionKey.publicKey }),
  ]);
}

/** A peer built before probes: its session reads `ping` as any unknown type. */
function asOlderPeer(session: SecureSession): SecureSession {
  return Object.assign(session, { probed: () => false });
}

describe("session probes", () => {
  it("a live peer answers at once, both ways, and neither side's listener sees the probe", async () => {
    const [requester, provider] = await pair();
    const seen: SessionMessage[] = [];
    requester.onMessage((m) => seen.push(m));
    provider.onMessage((m) => seen.push(m));
    expect(await requester.probe(2_000)).toBe(true);
    expect(await provider.probe(2_000)).toBe(true);
    await requester.send({ v: 1, t: "cancel", id: "r1" });
    await expect.poll(() => seen).toEqual([{ v: 1, t: "cancel", id: "r1" }]);
  });

  it("an older peer that knows no ping refuses it by name (UNKNOWN_TYPE): that answer counts, and is not passed on", async () => {
    const [requester, provider] = await pair();
    asOlderPeer(provider);
    const atRequester: SessionMessage[] = [];
    const atProvider: SessionMessage[] = [];
    requester.onMessage((m) => atRequester.push(m));
    provider.onMessage((m) => atProvider.push(m));
    expect(await requester.probe(2_000)).toBe(true);
    expect(atRequester).toEqual([]);
    expect(atProvider).toEqual([]);
    expect(requester.isOpen && provider.isOpen).toBe(true);
  });

  it("a peer that does not answer: false once the deadline passes, and the session is left to its owner", async () => {
    const [requester, provider] = await pair();
    // Nobody reads the provider's side: its frames wait unopened, as a frozen or dead peer's would.
    void provider;
    const started = Date.now();
    expect(await requester.probe(150)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(requester.isOpen).toBe(true);
  });

  it("a session that closes while a probe waits: false at once", async () => {
    const [requester] = await pair();
    const probe = requester.probe(60_000);
    requester.close();
    expect(await probe).toBe(false);
    expect(await requester.probe(60_000)).toBe(false);
  });
});
