/**
 * The provider side of the signaling benchmark, in a process of its own (as providers are other
 * machines in production, and so that their event loop is not the requesters'): registers
 * `BENCH_PROVIDERS` providers on `SIGNALING_URL` and as many relay targets on `BARE_URL` (the
 * two-hop baseline rotates through them as pairing rotates through providers), then prints
 * `{ msg: "ready", registerSeconds }` on stdout and holds the sockets until SIGTERM.
 */
import type { Socket } from "socket.io-client";
import { registerProvider, relayTarget } from "./signaling-clients";

const count = Number(process.env.BENCH_PROVIDERS ?? 2000);
const signalingUrl = process.env.SIGNALING_URL!;
const bareUrl = process.env.BARE_URL ?? "";
const sockets: Socket[] = [];

async function inBatches(make: () => Promise<Socket>): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    const batch = Math.min(100, count - i);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, make))));
  }
}

const t0 = performance.now();
await inBatches(() => registerProvider(signalingUrl));
const registerSeconds = (performance.now() - t0) / 1000;
// Without BARE_URL (the memory and refusal run), no relay targets.
if (bareUrl) await inBatches(() => relayTarget(bareUrl));
console.log(JSON.stringify({ msg: "ready", registerSeconds }));
process.on("SIGTERM", () => {
  for (const s of sockets) s.disconnect();
  process.exit(0);
});
