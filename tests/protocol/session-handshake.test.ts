import { x25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import {
  acceptSession,
  FRAME_REPLY,
  generateKeyPair,
  HandshakeError,
  IdentityMismatchError,
  InvalidSignatureError,
  initiateSession,
  memoryPipe,
  RELAY_FINGERPRINT,
  type SecureSession,
  type SessionMessage,
  TimeoutError,
} from "../../protocol";

const FP_R = "sha-256 AA:BB:CC";
const FP_P = "sha-256 DD:EE:FF";

function params(sessionId = "s1") {
  return { sessionId, requesterFingerprint: FP_R, providerFingerprint: FP_P, timeoutMs: 2000 };
}

function nextMessage(s: SecureSession): Promise<SessionMessage> {
  return new Promise((resolve) => s.onMessage(resolve));
}

describe("handshake over an in-memory channel", () => {
  it("establishes a session both ways and carries messages", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    const [a, b] = memoryPipe();
    const [requester, provider] = await Promise.all([
      initiateSession(a, { ...params(), providerIdentity: identity.publicKey, sessionKey }),
      acceptSession(b, { ...params(), identity, expectedSessionKey: sessionKey.publicKey }),
    ]);
    expect(requester.info.peerKey).toEqual(identity.publicKey);
    expect(provider.info.peerKey).toEqual(sessionKey.publicKey);

    const atProvider = nextMessage(provider);
    await requester.send({ v: 1, t: "cancel", id: "r1" });
    expect(await atProvider).toEqual({ v: 1, t: "cancel", id: "r1" });

    const atRequester = nextMessage(requester);
    await provider.send({ v: 1, t: "tokens", id: "r1", text: "héllo", count: 2, total: 2 });
    expect(await atRequester).toEqual({ v: 1, t: "tokens", id: "r1", text: "héllo", count: 2, total: 2 });
  });

  it("keeps a message that arrives with AUTH, in the same delivery, for the first listener", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    let held: Uint8Array | undefined;
    let fromRequester = 0;
    // The requester's 2nd frame (AUTH) is held and delivered together with its 3rd.
    const [a, b] = memoryPipe((f, from) => {
      if (from !== "a") return f;
      fromRequester += 1;
      if (fromRequester === 2) {
        held = f;
        return null;
      }
      return fromRequester === 3 && held ? [held, f] : f;
    });
    const requesterSide = initiateSession(a, {
      ...params(),
      providerIdentity: identity.publicKey,
      sessionKey,
    });
    const providerSide = acceptSession(b, { ...params(), identity });
    const requester = await requesterSide;
    await requester.send({ v: 1, t: "cancel", id: "first" });
    const provider = await providerSide;
    // Several awaits later, as the provider's runtime attaches its serving loop.
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(await nextMessage(provider)).toEqual({ v: 1, t: "cancel", id: "first" });
  });

  it("messages that arrive between one listener and the next wait for the next, in order", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    const [a, b] = memoryPipe();
    const [requester, provider] = await Promise.all([
      initiateSession(a, { ...params(), providerIdentity: identity.publicKey, sessionKey }),
      acceptSession(b, { ...params(), identity }),
    ]);
    const off = requester.onMessage(() => undefined);
    off();
    for (const id of ["x1", "x2", "x3"]) await provider.send({ v: 1, t: "cancel", id });
    await new Promise((r) => setTimeout(r, 50));
    const got: string[] = [];
    requester.onMessage((m) => got.push(m.t === "cancel" ? m.id : m.t));
    expect(got).toEqual(["x1", "x2", "x3"]);
  });

  it("carries a message larger than one frame, in frames of at most 64 KiB", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    let largest = 0;
    const [a, b] = memoryPipe((f) => {
      largest = Math.max(largest, f.length);
      return f;
    });
    const [requester, provider] = await Promise.all([
      initiateSession(a, { ...params(), providerIdentity: identity.publicKey, sessionKey }),
      acceptSession(b, { ...params(), identity }),
    ]);
    const content = "x".repeat(300_000);
    const got = nextMessage(provider);
    await requester.send({ v: 1, t: "request", id: "r", model: "m", messages: [{ role: "user", content }] });
    const msg = await got;
    expect(msg.t === "request" && msg.messages[0]!.content).toBe(content);
    expect(largest).toBeLessThanOrEqual(64 * 1024);
  });

  it("works with relay fingerprints on both sides", async () => {
    const identity = generateKeyPair();
    const sessionKey = generateKeyPair();
    const [a, b] = memoryPipe();
    const relay = {
      sessionId: "r",
      requesterFingerprint: RELAY_FINGERPRINT,
      providerFingerprint: RELAY_FINGERPRINT,
    };
    await Promise.all([
      initiateSession(a, { ...relay, providerIdentity: identity.publicKey, sessionKey }),
      acceptSession(b, { ...relay, identity }),
    ]);
  });
});

describe("handshake against a man in the middle", () => {
  it("refuses a provider proving another identity key than expected", async () => {
    const expected = generateKeyPair();
    const impostor = generateKeyPair();
    const [a, b] = memoryPipe();
    const requester = initiateSession(a, {
      ...params(),
      providerIdentity: expected.publicKey,
      sessionKey: generateKeyPair(),
    });
    const provider = acceptSession(b, { ...params(), identity: impostor });
    await expect(requester).rejects.toBeInstanceOf(IdentityMismatchError);
    await expect(provider).rejects.toThrow();
  });

  it("detects swapped DTLS fingerprints (a signaling server rewriting SDP)", async () => {
    const identity = generateKeyPair();
    const [a, b] = memoryPipe();
    const requester = initiateSession(a, {
      ...params(),
      providerIdentity: identity.publicKey,
      sessionKey: generateKeyPair(),
    });
    // The provider saw a different requester fingerprint: the server substituted its own certificate.
    const provider = acceptSession(b, { ...params(), requesterFingerprint: "sha-256 66:66:66", identity });
    await expect(requester).rejects.toBeInstanceOf(InvalidSignatureError);
    await expect(provider).rejects.toThrow();
  });

  it("detects swapped ephemeral keys in either direction", async () => {
    for (const direction of ["a", "b"] as const) {
      const identity = generateKeyPair();
      const mitmKey = x25519.getPublicKey(x25519.utils.randomSecretKey());
      const [a, b] = memoryPipe((frame, from) => {
        if (from !== direction) return frame;
        if (from === "a" && frame[0] === 0x01) frame.set(mitmKey, frame.length - 32);
        if (from === "b" && frame[0] === FRAME_REPLY) frame.set(mitmKey, 2);
        return frame;
      });
      const requester = initiateSession(a, {
        ...params(),
        providerIdentity: identity.publicKey,
        sessionKey: generateKeyPair(),
      });
      const provider = acceptSession(b, { ...params(), identity });
      await expect(requester).rejects.toBeInstanceOf(InvalidSignatureError);
      await expect(provider).rejects.toThrow();
    }
  });

  it("refuses a requester proving a different session key from the one announced", async () => {
    const identity = generateKeyPair();
    const [a, b] = memoryPipe();
    const requester = initiateSession(a, {
      ...params(),
      providerIdentity: identity.publicKey,
      sessionKey: generateKeyPair(),
    });
    const provider = acceptSession(b, {
      ...params(),
      identity,
      expectedSessionKey: generateKeyPair().publicKey,
    });
    await expect(provider).rejects.toBeInstanceOf(HandshakeError);
    await requester.catch(() => undefined);
  });

  it("refuses a hello for another session id", async () => {
    const identity = generateKeyPair();
    const [a, b] = memoryPipe();
    const requester = initiateSession(a, {
      ...params("other"),
      providerIdentity: identity.publicKey,
      sessionKey: generateKeyPair(),
    });
    await expect(acceptSession(b, { ...params(), identity })).rejects.toBeInstanceOf(HandshakeError);
    await expect(requester).rejects.toThrow();
  });

  it("times out with a typed error when the peer never answers", async () => {
    const [a] = memoryPipe(() => null);
    const identity = generateKeyPair();
    await expect(
      initiateSession(a, {
        ...params(),
        timeoutMs: 50,
        providerIdentity: identity.publicKey,
        sessionKey: generateKeyPair(),
      }),
    ).rejects.toBeInstanceOf(TimeoutError);
  });
});
