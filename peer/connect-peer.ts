import { type FrameTransport, RELAY_FINGERPRINT } from "../protocol";
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
    let settled = false;
    let link: WebRtcLink | undefined;
    /** Set once the direct channel is up. */
    let direct = false;
    const timer = setTimeout(() => toRelay(true), o.directTimeoutMs ?? DEFAULT_DIRECT_TIMEOUT_MS);
    const toRelay = (tell: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      link?.close();
      if (tell) sendSignal({ silk: RELAY_SIGNAL });
      resolve(viaRelay());
    };
    // The server ended the session, or (before the provider took it) moved it to another
    // provider: give up at once, whatever phase we are in, with an error that says which.
    const stop = (err: Error) => {
      relay.end(err);
      link?.close(err);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    // The link exists before the session's handlers do, so a signal delivered at once (the
    // signaling client keeps those that came before anyone listened) goes straight to it.
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
      signal: (data) => {
        if (data.silk === RELAY_SIGNAL) toRelay(false);
        else link?.signal(data);
      },
      ended: (end) => {
        // A direct channel needs no server: a node leaving or dying (ours or the other side's) leaves it be.
        if (direct && endedBySignaling(end)) return;
        stop(sessionEndError(end));
      },
      moved: (to) => stop(new SessionMovedError(to)),
    });
    if (settled) return;
    if (!link) {
      toRelay(true);
      return;
    }
    release?.catch((err: Error) => stop(err));
    const rtc = link;
    rtc.waitConnected(o.directTimeoutMs ?? DEFAULT_DIRECT_TIMEOUT_MS).then(
      () => {
        if (settled) return;
        // Without both fingerprints the handshake cannot bind DTLS: take the relay instead, and
        // never leave this promise pending (it used to, when reading them threw after `settled`).
        let fp: ReturnType<WebRtcLink["fingerprints"]>;
        try {
          fp = rtc.fingerprints();
        } catch {
          toRelay(true);
          return;
        }
        settled = true;
        direct = true;
        clearTimeout(timer);
        // The server sees the other side's socket go long before ICE notices a closed tab (`stop`).
        resolve({
          transport: rtc,
          path: "direct",
          requesterFingerprint: fp.requester,
          providerFingerprint: fp.provider,
        });
      },
      () => toRelay(true),
    );
  });
}
