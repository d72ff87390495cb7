import { afterEach, describe, expect, it } from "vitest";
import { RelayLink } from "../../peer/relay-link";
import { SignalingClient, sessionEndError } from "../../peer/signaling-client";
import {
  ChannelClosedError,
  type FrameTransport,
  flatPrice,
  generateKeyPair,
  memoryPipe,
} from "../../protocol";
import type { SignalingConfig } from "../../signaling/config";
import { cleanup, PAYOUT, startServer } from "../signaling/helpers";
import { type MitmMessage, startMitm } from "../support/mitm-signaling";
import { webrtcPair } from "../support/webrtc-pair";

/**
 * Transport compliance (in the manner of libp2p's interface tests): every FrameTransport the
 * session may run over keeps the same promises: order, nothing lost to timing (frames sent before
 * anyone listens, frames arriving together), a close seen once and nothing after it, and
 * backpressure that never drops a frame.
 */
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanup();
});

// The server's relay and event budgets are raised: the suite is about the transport, not the rate limit.
const UNLIMITED = {
  relayFramesPerSecond: 1_000_000,
  relayBytesPerSecond: 1e9,
  eventsPerSecond: 1_000_000,
  eventBurst: 1_000_000,
};

async function relayPair(
  limits: Partial<SignalingConfig> = UNLIMITED,
): Promise<[FrameTransport, FrameTransport]> {
  const { url } = await startServer(limits);
  return relaySession(url, url);
}

/**
 * One relayed session between two fresh clients. Each side's link is made where the session is:
 * in the turn the offer (`onOffer` may send at once) or the grant is read.
 */
async function relaySession(
  providerUrl: string,
  requesterUrl: string,
  onOffer: (link: RelayLink) => void = () => undefined,
): Promise<[RelayLink, RelayLink]> {
  const [providerSide, requesterSide] = await Promise.all([
    SignalingClient.connect(providerUrl),
    SignalingClient.connect(requesterUrl),
  ]);
  closers.push(
    () => providerSide.close(),
    () => requesterSide.close(),
  );
  const offered = new Promise<RelayLink>((resolve) =>
    providerSide.onOffer(async (offer) => {
      const link = relayOn(providerSide, offer.sessionId);
      onOffer(link);
      resolve(link);
      return true;
    }),
  );
  await providerSide.register({
    identity: generateKeyPair(),
    payout: PAYOUT,
    models: [{ model: "m", price: flatPrice(1n) }],
    capacity: 1,
    device: { adapter: "test", memoryMB: 1024 },
  });
  let requesterLink: RelayLink | undefined;
  await requesterSide.requestSession(
    {
      model: "m",
      maxPrice: { promptNanoPerToken: 10n, completionNanoPerToken: 10n },
      sessionKey: generateKeyPair().publicKey,
    },
    (g) => {
      requesterLink = relayOn(requesterSide, g.sessionId);
    },
  );
  const providerLink = await offered;
  expect(requesterLink).toBeDefined();
  return [requesterLink!, providerLink];
}

function relayOn(signaling: SignalingClient, sessionId: string): RelayLink {
  const link = new RelayLink(signaling, sessionId);
  signaling.session(sessionId, { ended: (e) => link.end(sessionEndError(e)) });
  return link;
}

const TRANSPORTS: Record<string, () => Promise<[FrameTransport, FrameTransport]>> = {
  "in-memory pipe": async () => memoryPipe(),
  "WebRTC (wrtc)": async () => {
    const { requester, provider } = await webrtcPair();
    closers.push(
      () => requester.close(),
      () => provider.close(),
    );
    return [requester, provider];
  },
  relay: relayPair,
};

/** Frame `i`: its number in the first 4 bytes, then a pattern, 4 to 703 bytes long. */
const frame = (i: number, size = 4 + (i % 700)) => {
  const f = new Uint8Array(size);
  new DataView(f.buffer).setUint32(0, i);
  for (let k = 4; k < size; k++) f[k] = (i + k) & 0xff;
  return f;
};
const idOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(0);

function collect(t: FrameTransport, n: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) =>
    t.inbox.read((f) => {
      got.push(f.slice());
      if (got.length === n) resolve(got);
    }),
  );
}

describe.each(Object.keys(TRANSPORTS))("transport compliance: %s", (name) => {
  const pair = () => TRANSPORTS[name]!();

  it("echoes a thousand chunks of varied sizes, in order and intact", async () => {
    const [a, b] = await pair();
    b.inbox.read((f) => void Promise.resolve(b.send(f.slice())).catch(() => undefined));
    const n = 1000;
    const back = collect(a, n);
    for (let i = 0; i < n; i++) await a.send(frame(i + 4));
    const got = await back;
    expect(got.map(idOf)).toEqual(Array.from({ length: n }, (_, i) => i + 4));
    for (const f of got) expect(f).toEqual(frame(idOf(f)));
  }, 60_000);

  // By design, not by a buffer of its own: the inbox is made with the transport.
  it("keeps frames sent before anyone listens", async () => {
    const [a, b] = await pair();
    for (let i = 0; i < 5; i++) await a.send(frame(i + 4));
    await new Promise((r) => setTimeout(r, 200));
    expect((await collect(b, 5)).map(idOf)).toEqual([4, 5, 6, 7, 8]);
  }, 30_000);

  it("delivers frames sent together (not awaited), all and in order", async () => {
    const [a, b] = await pair();
    const got = collect(b, 50);
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.send(frame(i + 4))));
    expect((await got).map(idOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 4));
  }, 30_000);

  it("an abrupt close mid-stream is seen once by the other side, and nothing arrives after it", async () => {
    const [a, b] = await pair();
    const seen: string[] = [];
    b.inbox.read(() => seen.push("frame"));
    const closed = new Promise<void>((resolve) =>
      b.inbox.onEnd(() => {
        seen.push("close");
        resolve();
      }),
    );
    for (let i = 0; i < 3; i++) await a.send(frame(i + 4));
    a.close(new ChannelClosedError("gone"));
    await closed;
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((s) => s === "close")).toHaveLength(1);
    expect(seen.at(-1)).toBe("close");
    await expect(Promise.resolve().then(() => a.send(frame(9)))).rejects.toBeInstanceOf(ChannelClosedError);
  }, 30_000);

  it("applies backpressure without losing a byte: 4 MiB in 60 KiB frames", async () => {
    const [a, b] = await pair();
    const size = 60 * 1024;
    const n = Math.ceil((4 * 1024 * 1024) / size);
    const got = collect(b, n);
    for (let i = 0; i < n; i++) await a.send(frame(i + 4, size));
    const all = await got;
    expect(all.map(idOf)).toEqual(Array.from({ length: n }, (_, i) => i + 4));
    expect(all.reduce((s, f) => s + f.length, 0)).toBe(n * size);
  }, 60_000);
});

describe("relay: a session's events have an owner from the moment it exists", () => {
  it("frames right behind the grant, in the same read, reach the requester's link", async () => {
    const { url } = await startServer(UNLIMITED);
    // The proxy holds the requester's grant and hands it over in one write with the provider's
    // first frame, which the provider sent before it even answered the offer.
    let grant: MitmMessage | undefined;
    const mitm = await startMitm(url, [
      (m) => {
        if (m.kind === "ack" && m.event === "session:request" && m.direction === "to-party") {
          grant = m;
          return null;
        }
        if (!grant || m.event !== "session:frame" || m.direction !== "to-party") return undefined;
        const both = [grant, m];
        grant = undefined;
        return both;
      },
    ]);
    closers.push(() => mitm.close());
    const sent: Promise<void>[] = [];
    const [link] = await relaySession(url, mitm.url, (providerLink) => {
      for (let i = 0; i < 5; i++) sent.push(providerLink.send(frame(i + 4)));
    });
    expect((await collect(link, 5)).map(idOf)).toEqual([4, 5, 6, 7, 8]);
    await Promise.all(sent);
  }, 30_000);
});

describe("relay under its rate limit", () => {
  it("frames beyond the session's budget are paced, never lost or reordered", async () => {
    const [a, b] = await relayPair({ relayFramesPerSecond: 50 });
    const n = 200; // four times the one-second burst
    const got = collect(b, n);
    for (let i = 0; i < n; i++) await a.send(frame(i));
    expect((await got).map(idOf)).toEqual(Array.from({ length: n }, (_, i) => i));
  }, 60_000);
});

describe("relay: a frame the server will not carry", () => {
  it("fails the send as a closed channel (never the peer's doing) and closes the link", async () => {
    const { url } = await startServer(UNLIMITED);
    const signaling = await SignalingClient.connect(url);
    closers.push(() => signaling.close());
    // A session the server no longer has (ended or moved under the sender) refuses NOT_IN_SESSION.
    const link = new RelayLink(signaling, "gone-session");
    const ended = new Promise<Error>((resolve) => link.inbox.onEnd(resolve));
    const refused = await link.send(frame(1)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ChannelClosedError);
    expect(refused).toMatchObject({
      code: "CHANNEL_CLOSED",
      message: expect.stringContaining("NOT_IN_SESSION"),
    });
    expect(await ended).toBe(refused);
    await expect(link.send(frame(2))).rejects.toBeInstanceOf(ChannelClosedError);
  });
});
