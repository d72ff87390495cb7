/**
 * Time from a session request to the first token on loopback (real signaling server, WebRTC via
 * @roamhq/wrtc, the Silk handshake, the test engine), with the requester's Registry and policy
 * checks against the devnet's Registry through TonClient, next to the same without them, in the
 * same run, interleaved. "Cold" reads the entry (and its address) every session; "warm" is the
 * SDK's cached reader (30 s lifetime), as a client opening several sessions has it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { TonClient } from "@ton/ton";
import { connect } from "../client/sdk/silk-client";
import { startDevnet } from "../contracts/devnet";
import { type RegistryReader, tonRegistryReader } from "../contracts/wrappers/registry-reader";
import { flatPrice, generateKeyPair } from "../protocol";
import { ProviderRuntime } from "../provider/runtime";
import { ScriptedEngine } from "../tests/doubles/scripted-engine";
import { cleanup, startServer } from "../tests/signaling/helpers";
import { registerOnDevnet } from "../tests/support/devnet-registry";
import { fmt, percentile, printTable } from "./table";

const ROUNDS = 12;
// An escrow of its own for each session: one requester that leaves after the first token, again
// and again on one escrow, is refused UNPAID_TOKENS by the provider (what it streamed is unpaid).
let escrows = 0;
const freshEscrow = () => `0:${(++escrows).toString(16).padStart(64, "0")}`;

export default async function trustBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "silk-trust-bench-"));
  const devnet = await startDevnet({ dataDir });
  const ton = new TonClient({ endpoint: devnet.endpoint });
  const who = await registerOnDevnet(devnet, ton, { models: ["test-model"], stake: 2_000_000_000n });
  const { url } = await startServer();
  const runtime = await ProviderRuntime.start({
    signalingUrl: url,
    identity: who.identity,
    engine: new ScriptedEngine(),
    models: [{ model: "test-model", price: flatPrice(10n) }],
    payout: who.owner.toString(),
    entry: who.entry,
    capacity: 4,
    wrtc,
  });
  const warm = tonRegistryReader(ton, devnet.chain.registry);

  const firstToken = async (registry: RegistryReader | undefined): Promise<number> => {
    const client = await connect({
      signalingUrl: url,
      sessionKey: generateKeyPair(),
      maxPrice: { promptNanoPerToken: 100n, completionNanoPerToken: 100n },
      escrow: freshEscrow(),
      wrtc,
      ...(registry && { trust: { registry, policy: { minStake: 1_000_000_000n } } }),
    });
    try {
      const start = performance.now();
      const stream = await client.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "first token please" }],
        stream: true,
      });
      for await (const _chunk of stream) return performance.now() - start;
      throw new Error("no token");
    } finally {
      client.close();
    }
  };

  const modes = {
    "no Registry check (baseline)": () => firstToken(undefined),
    "Registry + policy check, cold": () => firstToken(tonRegistryReader(ton, devnet.chain.registry)),
    "Registry + policy check, warm cache": () => firstToken(warm),
  } as const;
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (const run of Object.values(modes)) await run(); // warm up every path once
  for (let i = 0; i < ROUNDS; i++)
    for (const [name, run] of Object.entries(modes)) times[name]!.push(await run());

  const base = percentile(
    [...times["no Registry check (baseline)"]!].sort((a, b) => a - b),
    50,
  );
  printTable(
    `Session request to first token, loopback WebRTC, devnet Registry (${ROUNDS} sessions each, interleaved)`,
    Object.entries(times).map(([mode, t]) => {
      const sorted = [...t].sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      return {
        mode,
        "p50 ms": fmt(p50, 1),
        "p90 ms": fmt(percentile(sorted, 90), 1),
        "min ms": fmt(sorted[0]!, 1),
        "vs baseline p50": `${p50 >= base ? "+" : ""}${fmt(p50 - base, 1)} ms`,
      };
    }),
  );
  runtime.stop();
  await cleanup();
  await devnet.close();
  rmSync(dataDir, { recursive: true, force: true });
}
