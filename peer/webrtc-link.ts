import SimplePeer from "simple-peer";
import { ChannelClosedError, type FrameTransport, fingerprintFromSdp, TimeoutError } from "../protocol";
import { FrameHub } from "./frame-hub";
import { guardWrtc } from "./wrtc-guard";

/**
 * The one module that knows simple-peer: a WebRTC data channel as a FrameTransport, with
 * backpressure from `bufferedAmount`, and the DTLS fingerprints the Silk handshake binds.
 * In browsers the native RTCPeerConnection is used; in Node pass `@roamhq/wrtc` as `wrtc`.
 */
export type SignalData = Record<string, unknown>;
export type Wrtc = NonNullable<SimplePeer.Options["wrtc"]>;

export interface WebRtcLinkOptions {
  readonly initiator: boolean;
  readonly iceServers: readonly RTCIceServer[];
  /** Relays our signal data (SDP, ICE candidates) to the other side through signaling. */
  readonly sendSignal: (data: SignalData) => void;
  readonly wrtc?: Wrtc;
}

/** Above this many queued bytes, `send` waits for the channel to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;
const DRAIN_POLL_MS = 5;
/**
 * The most candidates taken from the other side. A browser or @roamhq/wrtc sends a few per network
 * interface (host, server-reflexive, relayed); each one taken is a pair libwebrtc checks, so a
 * flood the server slipped in (thousands of unreachable addresses) kept the channel from opening
 * and the session went over the relay late.
 */
export const MAX_REMOTE_CANDIDATES = 64;

export class WebRtcLink extends FrameHub implements FrameTransport {
  private readonly peer: SimplePeer.Instance;
  private readonly connected: Promise<void>;
  /** The descriptions as they crossed signaling: ours as we sent it, theirs as we were given it. */
  private localSdp: string | undefined;
  private remoteSdp: string | undefined;
  /**
   * An upper bound on the channel's `bufferedAmount`: its last reading plus every byte sent since.
   * Reading it is a call into the native channel (about 0.1 ms in @roamhq/wrtc, a fifth of a
   * provider's CPU when read before each token's frame), so it is read only when the bound says
   * the channel might be past the high-water mark.
   */
  private queuedBound = 0;
  private remoteCandidates = 0;

  constructor(private readonly opts: WebRtcLinkOptions) {
    super();
    this.peer = new SimplePeer({
      initiator: opts.initiator,
      trickle: true,
      config: { iceServers: [...opts.iceServers] },
      ...(opts.wrtc ? { wrtc: guardWrtc(opts.wrtc) } : {}),
    });
    this.peer.on("signal", (data: SignalData) => {
      if (typeof data.sdp === "string") this.localSdp = data.sdp;
      opts.sendSignal(data);
    });
    this.peer.on("data", (data: Uint8Array) => {
      this.deliver(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    this.connected = new Promise((resolve, reject) => {
      this.peer.once("connect", () => resolve());
      this.peer.once("error", (err: Error) => reject(err));
      this.peer.once("close", () => reject(new ChannelClosedError("peer connection closed")));
    });
    this.connected.catch(() => undefined);
    this.peer.on("error", (err: Error) =>
      this.finish(new ChannelClosedError("WebRTC error", { cause: err })),
    );
    this.peer.on("close", () => this.finish(undefined));
  }

  /**
   * Feeds the other side's signal data, as relayed by signaling. Only a description or a candidate
   * is passed on, and only the first description of the kind the other side sends: simple-peer
   * destroys the link on anything else, so one forged `{}` from the server (or a peer), or an answer
   * it sent twice, sent the session over the relay.
   */
  signal(data: SignalData): void {
    if (this.closed || !isSignal(data)) return;
    if (typeof data.sdp === "string") {
      // One description from the other side, of the kind its role sends (Silk never renegotiates):
      // simple-peer destroys the link on a second one (the server sending the answer twice) or on
      // an offer to the offerer, and the session went over the relay.
      if (this.remoteSdp !== undefined || data.type !== (this.opts.initiator ? "answer" : "offer")) return;
      this.remoteSdp = data.sdp;
    } else if (++this.remoteCandidates > MAX_REMOTE_CANDIDATES) return;
    this.peer.signal(data as unknown as SimplePeer.SignalData);
  }

  /** Resolves when the data channel is open; rejects after `timeoutMs` (then try the relay). */
  waitConnected(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError("WebRTC connection", timeoutMs)), timeoutMs);
      this.connected.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * The DTLS fingerprints as each side must feed them to the handshake: the initiator's from the
   * offer, the responder's from the answer. Read from the descriptions as they crossed signaling
   * (simple-peer's public `signal` data), not from simple-peer's private connection object.
   */
  fingerprints(): { requester: string; provider: string } {
    const local = this.localSdp;
    const remote = this.remoteSdp;
    if (!local || !remote) throw new ChannelClosedError("no session descriptions yet");
    const mine = fingerprintFromSdp(local);
    const theirs = fingerprintFromSdp(remote);
    return this.opts.initiator
      ? { requester: mine, provider: theirs }
      : { requester: theirs, provider: mine };
  }

  /**
   * Waits while the channel is past the high-water mark. The wait has no deadline of its own: a
   * peer that stops reading stops sending frames and receipts too, so the session's `frame` and
   * `credit` deadlines (peer/session-machine.ts) close this link, which ends the wait.
   */
  async send(frame: Uint8Array): Promise<void> {
    if (this.closed) throw new ChannelClosedError();
    if (this.queuedBound + frame.byteLength > HIGH_WATER_BYTES) {
      while (this.peer.bufferSize > HIGH_WATER_BYTES) {
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
        if (this.closed) throw new ChannelClosedError();
      }
      this.queuedBound = this.peer.bufferSize;
    }
    try {
      this.peer.send(frame);
    } catch (err) {
      // The data channel is closing or closed (the peer went) before its close event reached us:
      // libwebrtc throws a bare InvalidStateError, which reached a request's caller as is, and
      // the session stayed up. The link ends now, said as a closed channel, so the session's
      // requests read it as a session lost (another provider may take them) and this send too.
      const closed = new ChannelClosedError("the data channel closed", { cause: err });
      this.close(closed);
      throw closed;
    }
    this.queuedBound += frame.byteLength;
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.peer.destroy();
    this.finish(reason);
  }
}

/** What simple-peer sends and takes (Silk never renegotiates): an offer or answer, or a candidate. */
function isSignal(data: SignalData): boolean {
  if (data.sdp !== undefined)
    return typeof data.sdp === "string" && (data.type === "offer" || data.type === "answer");
  const candidate = data.candidate as { candidate?: unknown } | null | undefined;
  return typeof candidate === "object" && candidate !== null && typeof candidate.candidate === "string";
}
