/**
 * Tokens through the whole peer session (WebRTC data channel via @roamhq/wrtc on loopback, the
 * Silk handshake, encrypted frames, the serving loop with its credit window, the requester's
 * token checks and receipts) against the same test engine called directly, in the same run.
 * Added latency per token: from the engine handing over a token to the requester's callback.
 */
import { Address } from "@ton/core";
import { MemoryPaymentAccount } from "../client/sdk/payment-account";
import { RequesterSession } from "../client/sdk/requester-session";
import { acceptSession, flatPrice, generateKeyPair, initiateSession, NETWORK_ID } from "../protocol";
import { MemoryReceiptStore } from "../provider/receipt-store";
import { heldIn } from "../provider/serving/held-receipts";
import { SessionServer } from "../provider/serving/session-server";
import { Slots } from "../provider/serving/slots";
import { ScriptedEngine } from "../tests/doubles/scripted-engine";
import { webrtcPair } from "../tests/support/webrtc-pair";
import type { ChunkSink, EngineRequest } from "../web/engines/engine";
import { fmt, percentile, printTable } from "./table";

const TOKENS = 4000;
const reply = () => Array.from({ length: TOKENS }, (_, i) => `t${i % 100}`).join(" ");
const request: EngineRequest = { model: "test-model", messages: [{ role: "user", content: "go" }] };

/** The test engine, stamping the moment each token leaves it. */
class StampingEngine extends ScriptedEngine {
  readonly stamps: number[] = [];
  override generate(req: EngineRequest, onChunk: ChunkSink, signal?: AbortSignal) {
    return super.generate(
      req,
      (c) => {
        this.stamps.push(performance.now());
        return onChunk(c);
      },
      signal,
    );
  }
}

async function direct() {
  const engine = new StampingEngine({ reply });
  const start = performance.now();
  let n = 0;
  await engine.generate(request, () => {
    n++;
  });
  return { tokensPerSec: n / ((performance.now() - start) / 1000), added: [0] };
}

async function throughSession(tokenDelayMs: number) {
  const engine = new StampingEngine({ reply, tokenDelayMs });
  const { requester, provider } = await webrtcPair();
  const fp = requester.fingerprints();
  const identity = generateKeyPair();
  const sessionKey = generateKeyPair();
  const p = { sessionId: "bench", requesterFingerprint: fp.requester, providerFingerprint: fp.provider };
  const [r, s] = await Promise.all([
    initiateSession(requester, { ...p, providerIdentity: identity.publicKey, sessionKey }),
    acceptSession(provider, { ...p, identity }),
  ]);
  const payout = Address.parse(`0:${"22".repeat(32)}`);
  new SessionServer(s, {
    engine,
    models: [{ model: "test-model", price: flatPrice(1n) }],
    network: NETWORK_ID.devnet,
    payout,
    receipts: heldIn(new MemoryReceiptStore()),
    slots: new Slots(1, 1),
    creditWindowTokens: 64,
  });
  const session = await RequesterSession.open(r, {
    sessionKey,
    keyEpoch: 0,
    network: NETWORK_ID.devnet,
    escrow: Address.parse(`0:${"11".repeat(32)}`),
    payout,
    maxPrice: { promptNanoPerToken: 1n, completionNanoPerToken: 1n },
    account: new MemoryPaymentAccount(),
    receiptEvery: 16,
  });
  const received: number[] = [];
  const start = performance.now();
  await session.request(request, () => {
    received.push(performance.now());
  });
  const elapsed = (performance.now() - start) / 1000;
  const added = received.map((t, i) => t - (engine.stamps[i] ?? t)).sort((a, b) => a - b);
  requester.close();
  provider.close();
  return { tokensPerSec: received.length / elapsed, added };
}

export default async function main(): Promise<void> {
  const base = await direct();
  const flat = await throughSession(0);
  const paced = await throughSession(1);
  const row = (path: string, r: { tokensPerSec: number; added: number[] }) => ({
    path,
    "tokens/s": fmt(r.tokensPerSec, 0),
    "added p50 ms": fmt(percentile(r.added, 50), 3),
    "added p99 ms": fmt(percentile(r.added, 99), 3),
  });
  printTable(
    `Tokens through an encrypted WebRTC session vs the test engine called directly (${TOKENS} tokens)`,
    [
      row("engine called directly", base),
      row("session, engine unpaced (throughput; tokens queue)", flat),
      row("session, engine paced ~1 ms/token (latency)", paced),
    ],
  );
  console.log(
    "Both sides run in this one process, so their crypto (receipt signing and checking) shares one core.",
  );
  console.log("Targets: under 2 ms p50 added per token; at least 2,000 tokens/s in one session.");
}
