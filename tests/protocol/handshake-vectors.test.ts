import { describe, expect, it } from "vitest";
import {
  acceptSession,
  initiateSession,
  keyPairFromSecret,
  memoryPipe,
  type SecureSession,
  type SessionMessage,
  transcriptHash,
} from "../../protocol";

/**
 * Fixed test vectors for the handshake: every key fixed (ephemeral secrets injected), so the
 * bytes on the wire are fixed too. A change that would break every deployed peer (a label, the
 * transcript's order, the key split, the frame layout) fails here.
 */
const fill = (byte: number) => new Uint8Array(32).fill(byte);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const identity = keyPairFromSecret(fill(1));
const sessionKey = keyPairFromSecret(fill(2));
const requesterEphemeral = fill(3);
const providerEphemeral = fill(4);
const common = {
  sessionId: "vector-session",
  requesterFingerprint: "sha-256 AA:BB:CC",
  providerFingerprint: "sha-256 DD:EE:FF",
};

/** HELLO, REPLY, AUTH (frame 0 of requester → provider), each side's first data frame, and h. */
const EXPECTED = {
  hello: "01010e766563746f722d73657373696f6e5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22",
  reply:
    "0201ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5cc0456493c28023c4a7693aa4dc9ab899f9b561d14dc3731ff7d845800089e766d1760f60d373e63d5c78e9b401626ac34e9c46ed6efe259786abad29e960c50d",
  auth: "100000000000000000b17772bb910031439ad163f89dedc1eaa583c87f984a786cedb062c197b8bf89fcc131c277d8399889765476459ef002604521475fd0208ff1e9a06a22a496f765919b4133c411805897adaaaba153b2f343ec8d681451f1ef203f3dcff708634dafdd05e129ed3002c8871036f40e5cd5",
  firstRequesterFrame:
    "10000000000000000102ff06643d07709bf9c2eda9916b167bc24059d991e5a48720c9530021727a6a96af3bc22f1ae4924d890336b82021",
  firstProviderFrame:
    "10000000000000000012266959a151d066b78662d8152ae6edb6be018b15492bafe66cdab012a2ce71b5f4545a51cdfd576c0573a4c6b5e7",
  transcript: "253e3b8fb66827bb6274eaef0ec5e1bc04049a6de5ba73a09f0be4e4d2753882",
};

describe("handshake test vectors", () => {
  it("produces exactly these bytes on the wire", async () => {
    const wire: Uint8Array[] = [];
    const [a, b] = memoryPipe((frame) => {
      wire.push(frame.slice());
      return frame;
    });
    const [requester, provider] = (await Promise.all([
      initiateSession(a, {
        ...common,
        providerIdentity: identity.publicKey,
        sessionKey,
        ephemeralSecret: requesterEphemeral,
      }),
      acceptSession(b, { ...common, identity, ephemeralSecret: providerEphemeral }),
    ])) as [SecureSession, SecureSession];
    const got = new Promise<SessionMessage>((r) => provider.onMessage(r));
    await requester.send({ v: 1, t: "cancel", id: "r1" });
    await got;
    const back = new Promise<SessionMessage>((r) => requester.onMessage(r));
    await provider.send({ v: 1, t: "cancel", id: "p1" });
    await back;

    const [hello, reply, auth, firstR, firstP] = wire.map(hex);
    // eR is HELLO's last 32 bytes, eP REPLY's bytes 2..34.
    const transcript = transcriptHash(common, wire[0]!.slice(-32), wire[1]!.slice(2, 34), identity.publicKey);
    const actual = {
      hello,
      reply,
      auth,
      firstRequesterFrame: firstR,
      firstProviderFrame: firstP,
      transcript: hex(transcript),
    };
    expect(actual).toEqual(EXPECTED);
  });

  it("a random ephemeral key (the default) gives other bytes every time", async () => {
    const hellos: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [a] = memoryPipe((frame) => {
        if (frame[0] === 1) hellos.push(hex(frame));
        return frame;
      });
      void initiateSession(a, {
        ...common,
        providerIdentity: identity.publicKey,
        sessionKey,
        timeoutMs: 50,
      }).catch(() => undefined);
    }
    await expect.poll(() => hellos.length).toBe(2);
    expect(hellos[0]).not.toBe(hellos[1]);
  });
});
