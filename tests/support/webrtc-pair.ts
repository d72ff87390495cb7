import wrtc from "@roamhq/wrtc";
import { type SignalData, WebRtcLink } from "../../peer/webrtc-link";

/**
 * Two WebRTC links in this process wired to each other directly (no signaling server), with an
 * optional rewrite of signals in flight. Real data channels over loopback via @roamhq/wrtc.
 */
export async function webrtcPair(
  rewrite: (data: SignalData, from: "requester" | "provider") => SignalData = (d) => d,
): Promise<{ requester: WebRtcLink; provider: WebRtcLink }> {
  let requester: WebRtcLink;
  let provider: WebRtcLink;
  requester = new WebRtcLink({
    initiator: true,
    iceServers: [],
    wrtc,
    sendSignal: (d) => provider.signal(rewrite(d, "requester")),
  });
  provider = new WebRtcLink({
    initiator: false,
    iceServers: [],
    wrtc,
    sendSignal: (d) => requester.signal(rewrite(d, "provider")),
  });
  await Promise.all([requester.waitConnected(10_000), provider.waitConnected(10_000)]);
  return { requester, provider };
}
