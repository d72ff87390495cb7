import type { Wrtc } from "./webrtc-link";

/**
 * @roamhq/wrtc (WebRTC for Node) with its `localDescription` and `remoteDescription` getters
 * answered from JavaScript. The native getters serialize the description on the JS thread while
 * WebRTC's own thread adds ICE candidates to it, and now and then segfault the process
 * (`webrtc::SdpSerialize` under `RTCPeerConnection::GetLocalDescription`, caught in gdb here;
 * upstream node-webrtc#696, simple-peer#812). simple-peer reads them after each description is
 * set and on every remote candidate. Here they return the description as it was last set
 * (candidates trickle separately, as Silk always sends them), so the native getter is never
 * called. Browsers' own RTCPeerConnection is not wrapped.
 */
type Description = { type: RTCSdpType; sdp: string };
type Setter = (d?: { type?: RTCSdpType; sdp?: string }) => Promise<void>;

const guarded = new WeakMap<Wrtc, Wrtc>();

export function guardWrtc(wrtc: Wrtc): Wrtc {
  const known = guarded.get(wrtc);
  if (known) return known;
  const Native = wrtc.RTCPeerConnection as unknown as new (config?: RTCConfiguration) => object;
  // A constructor that returns an object: `new GuardedPeerConnection(config)` is the proxy.
  function GuardedPeerConnection(config?: RTCConfiguration): object {
    return guardPeerConnection(new Native(config));
  }
  const out = { ...wrtc, RTCPeerConnection: GuardedPeerConnection } as unknown as Wrtc;
  guarded.set(wrtc, out);
  return out;
}

function guardPeerConnection(pc: object): object {
  const set: Record<"local" | "remote", Description | null> = { local: null, remote: null };
  const setter = (side: "local" | "remote", native: Setter): Setter =>
    function (this: unknown, d) {
      return native.call(pc, d).then(() => {
        if (d?.type && typeof d.sdp === "string") set[side] = { type: d.type, sdp: d.sdp };
      });
    };
  const target = pc as Record<string, unknown>;
  const setLocal = setter("local", target.setLocalDescription as Setter);
  const setRemote = setter("remote", target.setRemoteDescription as Setter);
  return new Proxy(pc, {
    get(t, key, receiver) {
      if (key === "localDescription") return set.local;
      if (key === "remoteDescription") return set.remote;
      if (key === "setLocalDescription") return setLocal;
      if (key === "setRemoteDescription") return setRemote;
      return Reflect.get(t, key, receiver);
    },
  });
}
