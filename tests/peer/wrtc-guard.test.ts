import { execFile } from "node:child_process";
import wrtc from "@roamhq/wrtc";
import { describe, expect, it } from "vitest";
import { guardWrtc } from "../../peer/wrtc-guard";

/**
 * @roamhq/wrtc's native description getters segfault now and then while ICE candidates are being
 * gathered (peer/wrtc-guard.ts); a vitest worker died so in CI. The guarded addon answers them
 * from what was set, never from the native getter.
 */
type Pc = RTCPeerConnection & { _pc: RTCPeerConnection };

function until(pc: RTCPeerConnection, state: RTCIceGatheringState): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ICE gathering never reached ${state}`)), 10_000);
    const check = () => {
      if (pc.iceGatheringState !== state) return;
      clearTimeout(timer);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", check);
    check();
  });
}

describe("guardWrtc", () => {
  it("answers localDescription and remoteDescription with what was set, not from the native getters", async () => {
    const W = guardWrtc(wrtc);
    expect(guardWrtc(wrtc)).toBe(W);
    const a = new W.RTCPeerConnection({ iceServers: [] }) as Pc;
    const b = new W.RTCPeerConnection({ iceServers: [] }) as Pc;
    try {
      expect(a.localDescription).toBeNull();
      a.createDataChannel("silk");
      const offer = await a.createOffer();
      await a.setLocalDescription(offer);
      await until(a, "complete");
      // Gathering done: the native description now carries candidates; the guarded one is as set.
      expect(a._pc.localDescription?.sdp).toContain("a=candidate");
      expect(a.localDescription).toEqual({ type: "offer", sdp: offer.sdp });
      await b.setRemoteDescription(offer);
      expect(b.remoteDescription).toEqual({ type: "offer", sdp: offer.sdp });
      const answer = await b.createAnswer();
      await b.setLocalDescription(answer);
      await a.setRemoteDescription(answer);
      expect(a.remoteDescription).toEqual({ type: "answer", sdp: answer.sdp });
      expect(b.localDescription).toEqual({ type: "answer", sdp: answer.sdp });
      // Everything else is the addon's own.
      expect(a.signalingState).toBe("stable");
    } finally {
      a.close();
      b.close();
    }
  });

  it("survives 20 s of links opened, used and closed at every stage", async () => {
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--expose-gc", "--import", "tsx", "tests/support/link-churn.ts", "20"],
        { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      );
    });
    expect(run.out).toMatch(/churned \d+/);
    expect(run.code).toBe(0);
  }, 90_000);
});
