/**
 * A provider killed mid-answer over a direct WebRTC channel (its process SIGKILLed: no close on
 * any channel, as a crashed tab or machine): how long from the kill until the answer goes on at
 * another provider. The server sees the provider's socket drop and says so (`session:ended`); the
 * requester then probes the direct channel (peer/connect-peer.ts `probeEnds`) and fails over when
 * no answer comes within the `probe` deadline. Rows, interleaved in one run:
 * - "probe 0 ms": the probe cannot be answered in time, so the notice is believed at once, as
 *   before probes existed (the baseline);
 * - "probe 1,000 ms": the default;
 * - "no notice": the server says nothing (a man in the middle drops it); only WebRTC or the
 *   requester's frame deadline (20 s) can end the session.
 */
import wrtc from "@roamhq/wrtc";
import { connect } from "../client/sdk/silk-client";
import { DEFAULT_DEADLINES } from "../peer/session-machine";
import { flatPrice, generateKeyPair } from "../protocol";
import { ProviderRuntime } from "../provider/runtime";
import { createLogger } from "../signaling/logger";
import { createSignalingServer } from "../signaling/server";
import { ScriptedEngine } from "../tests/doubles/scripted-engine";
import { startMitm } from "../tests/support/mitm-signaling";
import { killProviderProcesses, startProviderProcess } from "../tests/support/provider-process";
import { ESCROW, MAX_PRICE } from "../tests/support/silk-parties";
import { fmt, percentile, printTable } from "./table";

const RUNS = 5;
const WORDS = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
const CONTINUED = "continued.";

/** Milliseconds from the kill to the first token of the other provider's continuation. */
async function once(url: string, probe: number): Promise<number> {
  const first = await startProviderProcess(url, { tokenDelayMs: 50, reply: WORDS });
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: MAX_PRICE,
    escrow: ESCROW,
    wrtc,
    deadlines: { probe },
  });
  let second: ProviderRuntime | undefined;
  try {
    const stream = await client.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    let text = "";
    let killedAt: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (killedAt === undefined && text.split(" ").length > 3) {
        second = await ProviderRuntime.start({
          signalingUrl: url,
          identity: generateKeyPair(),
          engine: new ScriptedEngine({ reply: () => CONTINUED }),
          models: [{ model: "test-model", price: flatPrice(10n) }],
          payout: `0:${"44".repeat(32)}`,
          wrtc,
        });
        killedAt = performance.now();
        await first.kill();
      }
      if (killedAt !== undefined && text.includes("continued")) return performance.now() - killedAt;
    }
    throw new Error(`the answer ended without the continuation: ${text.slice(-80)}`);
  } finally {
    client.close();
    second?.stop();
    await first.kill();
  }
}

export default async function run(): Promise<void> {
  const server = createSignalingServer({ port: 0, host: "127.0.0.1", logger: createLogger("silent") });
  const { url } = await server.start();
  const mitm = await startMitm(url, [
    (m) => (m.event === "session:ended" && m.direction === "to-party" ? null : undefined),
  ]);
  const believe: number[] = [];
  const probed: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      believe.push(await once(url, 0));
      probed.push(await once(url, DEFAULT_DEADLINES.probe));
    }
    const silent = await once(mitm.url, DEFAULT_DEADLINES.probe).catch(() => Number.NaN);
    const row = (name: string, xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return {
        case: name,
        runs: xs.length,
        "min ms": fmt(sorted[0] ?? Number.NaN, 0),
        "p50 ms": fmt(percentile(sorted, 50), 0),
        "max ms": fmt(sorted.at(-1) ?? Number.NaN, 0),
      };
    };
    printTable("kill -9 of the provider mid-answer (direct) → the answer goes on elsewhere", [
      row("believe the server (probe 0 ms)", believe),
      row(`probe ${DEFAULT_DEADLINES.probe} ms (default)`, probed),
      row("no notice from the server", [silent]),
    ]);
  } finally {
    killProviderProcesses();
    await mitm.close();
    await server.close();
  }
}
