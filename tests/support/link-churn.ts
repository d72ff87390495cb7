/**
 * A child process (tests/peer/wrtc-guard.test.ts): pairs of WebRtcLinks over @roamhq/wrtc, 8 at a
 * time for `secs` seconds, signals delayed 0–3 ms, some closed mid-ICE and some mid-transfer, with
 * collections forced between batches. Prints `churned N` and exits 0 when the process survived.
 * `CHURN_UNGUARDED=1` passes simple-peer the bare addon, as before `peer/wrtc-guard.ts`.
 */
import wrtc from "@roamhq/wrtc";
import SimplePeer from "simple-peer";
import { type SignalData, WebRtcLink } from "../../peer/webrtc-link";

const secs = Number(process.argv[2] ?? 20);
const unguarded = process.env.CHURN_UNGUARDED === "1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side {
  signal(d: SignalData): void;
  close(): void;
  send(b: Uint8Array): Promise<void> | void;
  connected: Promise<void>;
}

function side(initiator: boolean, sendSignal: (d: SignalData) => void): Side {
  if (!unguarded) {
    const link = new WebRtcLink({ initiator, iceServers: [], wrtc, sendSignal });
    const connected = link.waitConnected(5_000);
    connected.catch(() => undefined);
    return {
      signal: (d) => link.signal(d),
      close: () => link.close(),
      send: (b) => link.send(b),
      connected,
    };
  }
  const peer = new SimplePeer({ initiator, trickle: true, config: { iceServers: [] }, wrtc });
  peer.on("signal", (d: SignalData) => sendSignal(d));
  peer.on("error", () => undefined);
  const connected = new Promise<void>((resolve, reject) => {
    peer.once("connect", () => resolve());
    peer.once("close", () => reject(new Error("closed")));
    setTimeout(() => reject(new Error("timeout")), 5_000);
  });
  connected.catch(() => undefined);
  return {
    signal: (d) => {
      if (!peer.destroyed) peer.signal(d as unknown as SimplePeer.SignalData);
    },
    close: () => peer.destroy(),
    send: (b) => {
      if (!peer.destroyed) peer.send(b);
    },
    connected,
  };
}

async function pair(): Promise<void> {
  let a: Side | undefined;
  let b: Side | undefined;
  a = side(true, (d) => void sleep(Math.random() * 3).then(() => b?.signal(d)));
  b = side(false, (d) => void sleep(Math.random() * 3).then(() => a?.signal(d)));
  if (Math.random() < 0.3) {
    await sleep(Math.random() * 40);
    (Math.random() < 0.5 ? a : b).close();
  } else {
    await Promise.all([a.connected, b.connected]).catch(() => undefined);
    const sending = (async () => {
      for (let i = 0; i < 50; i++) {
        try {
          await a.send(new Uint8Array(1000));
          await b.send(new Uint8Array(200));
        } catch {
          return;
        }
      }
    })();
    await sleep(Math.random() * 20);
    (Math.random() < 0.5 ? a : b).close();
    await sending;
  }
  await sleep(Math.random() * 10);
  a.close();
  b.close();
}

const gc = (globalThis as { gc?: () => void }).gc;
const end = Date.now() + secs * 1000;
let n = 0;
while (Date.now() < end) {
  await Promise.all(Array.from({ length: 8 }, pair));
  n += 8;
  if (gc && n % 40 === 0) gc();
}
process.stdout.write(`churned ${n}\n`);
// Not a natural exit: @roamhq/wrtc can crash in its finalizers at teardown (client/README.md).
process.exit(0);
