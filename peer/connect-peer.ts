import { RELAY_FINGERPRINT } from "../protocol/session/fingerprint";
import type { SecureSession } from "../protocol/session/secure-session";
import type { FrameTransport } from "../protocol/session/transport";
import { type ChoiceEvent, type ChoicePhase, choose } from "./channel-choice";
import { RelayLink } from "./relay-link";
import {
  endedBySignaling,
  SessionMovedError,
  type SignalData,
  type SignalingClient,
  sessionEndError,
} from "./signaling-client";
import { WebRtcLink, type Wrtc } from "./webrtc-link";

/**
 * Makes the channel for one session: a direct WebRTC data channel when one opens within
 * `directTimeoutMs` (TURN servers, when configured, are among the ICE servers and tried by ICE
 * itself), otherwise the relay through the signaling server. Either side that gives up on WebRTC
 * tells the other with a `{ silk: "relay" }` signal, so both switch; the handshake that follows
 * is the same on both paths.
 */
export interface PeerChannel {
  readonly transport: FrameTransport;
  readonly path: "direct" | "relay";
  readonly requesterFingerprint: string;
  readonly providerFingerprint: string;
  /**
   * Settles once the peer has been heard over the channel: at once for a direct channel (it opened
   * with the peer at its other end), with the first frame for the relay (which the server carries
   * from the grant on, before the provider has taken the session).
   */
  readonly heard: Promise<void>;
  /**
   * Once `session` is secured on this channel: a direct channel does not run through the server,
   * so from now on the server's word that the session ended is checked by probing the peer over
   * `session`, and the channel closes with the server's reason only if no answer comes within
   * `timeoutMs`. A relayed session keeps believing the server, which carries it anyway.
   * `outlived` is called whenever the session goes on though the server no longer counts it (the
   * peer answered a probe, or our signaling connection went away): its place was given back.
   */
  probeEnds(session: SecureSession, timeoutMs: number, outlived?: () => void): void;
}

export interface ConnectPeerOptions {
  readonly signaling: SignalingClient;
  readonly sessionId: string;
  readonly role: "requester" | "provider";
  readonly iceServers: readonly RTCIceServer[];
  readonly wrtc?: Wrtc;
  readonly directTimeoutMs?: number;
  /** Skip WebRTC (a WebView without working WebRTC, or a test of the relay). */
  readonly forceRelay?: boolean;
  /**
   * Nothing is sent to the other side until this resolves (the requester's check of the provider
   * on chain): the channel is prepared meanwhile. If it rejects, the channel closes with its error.
   */
  readonly release?: Promise<unknown>;
}

export const DEFAULT_DIRECT_TIMEOUT_MS = 5_000;
const RELAY_SIGNAL = "relay";

export function connectPeer(o: ConnectPeerOptions): Promise<PeerChannel> {
  const relay = new RelayLink(o.signaling, o.sessionId);
  // Held signals go out in order: each waits on the same promise.
  const release = o.release;
  const sendSignal = (data: SignalData) => {
    if (!release) return o.signaling.sendSignal(o.sessionId, data);
    release.then(
      () => o.signaling.sendSignal(o.sessionId, data),
      () => undefined,
    );
  };
  const viaRelay = (): PeerChannel => ({
    transport: relay,
    path: "relay",
    requesterFingerprint: RELAY_FINGERPRINT,
    providerFingerprint: RELAY_FINGERPRINT,
    heard: relay.heard,
    probeEnds: () => undefined,
  });
  const hasWebRtc = Boolean(o.wrtc) || typeof globalThis.RTCPeerConnection === "function";
  if (o.forceRelay || !hasWebRtc) {
    o.signaling.session(o.sessionId, {
      ended: (end) => relay.end(sessionEndError(end)),
      moved: (to) => relay.end(new SessionMovedError(to)),
    });
    sendSignal({ silk: RELAY_SIGNAL });
    if (!release) return Promise.resolve(viaRelay());
    return release.then(viaRelay, (err: Error) => {
      relay.end(err);
      throw err;
    });
  }

  return new Promise((resolve, reject) => {
    let phase: ChoicePhase = "trying";
    let direct: PeerChannel | undefined;
    let ending: Error | undefined;
    const timeoutMs = o.directTimeoutMs ?? DEFAULT_DIRECT_TIMEOUT_MS;
    let link: WebRtcLink | undefined;
    let prober: ((notice: Error) => void) | undefined;
    // Told once `probeEnds` names whom to tell; until then, remembered.
    let outlived: (() => void) | undefined;
    let outlivedEarly = false;
    const feed = (event: ChoiceEvent) => {
      const next = choose(phase, event);
      phase = next.phase;
      for (const effect of next.effects) {
        if (effect === "disarm") clearTimeout(timer);
        else if (effect === "use-direct" && direct) resolve(direct);
        else if (effect === "use-relay") resolve(viaRelay());
        else if (effect === "tell-relay") sendSignal({ silk: RELAY_SIGNAL });
        else if (effect === "close-link") link?.close(ending);
        else if (effect === "end-relay" && ending) relay.end(ending);
        else if (effect === "fail" && ending) reject(ending);
        else if (effect === "probe" && ending) prober?.(ending);
        else if (effect === "outlived") {
          outlivedEarly = outlived === undefined;
          outlived?.();
        }
      }
    };
    // The server ended the session, or (before the provider took it) moved it to another
    // provider: give up at once, whatever phase we are in, with an error that says which.
    const stop = (err: Error, bySignaling = false, probeable = false) => {
      ending = err;
      feed({ type: "ended", bySignaling, probeable });
    };
    const timer = setTimeout(() => feed({ type: "direct-failed" }), timeoutMs);
    // Both links exist before the session's handlers, which exist before this returns: whatever
    // the server relays for this session from now on has its owner.
    try {
      link = new WebRtcLink({
        initiator: o.role === "requester",
        iceServers: o.iceServers,
        wrtc: o.wrtc,
        sendSignal,
      });
    } catch {
      link = undefined;
    }
    o.signaling.session(o.sessionId, {
      // Once the direct channel is up nothing more is negotiated: a signal then (an SDP or a
      // candidate the server replays or forges) could only make simple-peer destroy a live channel.
      signal: (data) => {
        if (data.silk === RELAY_SIGNAL) feed({ type: "peer-relay" });
        else if (phase === "trying") link?.signal(data);
      },
      // A direct channel needs no server: a node leaving or dying (ours or the other side's) leaves it be.
      ended: (end) => stop(sessionEndError(end), endedBySignaling(end), prober !== undefined),
      moved: (to) => stop(new SessionMovedError(to)),
    });
    if (!link) {
      feed({ type: "direct-failed" });
      return;
    }
    release?.catch((err: Error) => stop(err));
    const rtc = link;
    rtc.waitConnected(timeoutMs).then(
      () => {
        // Without both fingerprints the handshake cannot bind DTLS: the machine takes the relay.
        try {
          const fp = rtc.fingerprints();
          direct = {
            transport: rtc,
            path: "direct",
            requesterFingerprint: fp.requester,
            providerFingerprint: fp.provider,
            heard: Promise.resolve(),
            probeEnds: (session, timeoutMs, told) => {
              prober = probeOnce(rtc, session, timeoutMs, told);
              outlived = told;
              if (outlivedEarly) told?.();
            },
          };
        } catch {
          direct = undefined;
        }
        feed({ type: "direct-up", bound: direct !== undefined });
      },
      () => feed({ type: "direct-failed" }),
    );
  });
}

/**
 * The server said a direct session ended: ask the peer, and close the link with the server's
 * reason only if it does not answer in time. A flood of notices makes one probe at a time.
 */
function probeOnce(
  link: WebRtcLink,
  session: SecureSession,
  timeoutMs: number,
  alive?: () => void,
): (notice: Error) => void {
  let probing = false;
  return (notice) => {
    if (probing) return;
    probing = true;
    void session.probe(timeoutMs).then((answered) => {
      probing = false;
      if (!answered) link.close(notice);
      else alive?.();
    });
  };
}
