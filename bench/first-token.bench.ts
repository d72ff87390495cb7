/**
 * Time to first token, on loopback in one run: from `chat.completions.create` (the SDK's, and an
 * HTTP request to the gateway) to the first token of the answer, for a request that opens a new
 * session (pairing at a real signaling server, WebRTC ICE through @roamhq/wrtc, the handshake,
 * the requester's Registry check and the provider's escrow check against a test-double chain,
 * the base receipt) and for one on a session already open, next to the backend's own first token
 * (a test-double OpenAI-compatible server with a fixed delay, called directly).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { startGateway } from "../client/gateway/gateway-server";
import { connect, type SilkClient } from "../client/sdk/silk-client";
import { flatPrice, generateKeyPair } from "../protocol";
import { accountGate } from "../provider/account-gate";
import { HttpEngine } from "../provider/engines/http-engine";
import { ReceiptLogStore } from "../provider/headless/receipt-log-store";
import { ProviderRuntime } from "../provider/runtime";
import { createLogger } from "../signaling/logger";
import { createSignalingServer } from "../signaling/server";
import { startOpenAiBackend } from "../tests/doubles/openai-backend";
import { slowChain } from "../tests/doubles/slow-chain";
import { fmt, percentile, printTable } from "./table";

/** The backend's own first token: what every row adds to. */
const BACKEND_DELAY_MS = 20;
/** One chain read (a nearby endpoint); the Registry check makes two on a cold entry. */
const CHAIN_READ_MS = 10;
const NEW_SAMPLES = 25;
const REUSED_SAMPLES = 40;
const MODEL = "bench-model";
/** Each client its own escrow: a stream's receipts are signed by one session key. */
let escrows = 0;
const nextEscrow = () => `0:${(++escrows).toString(16).padStart(64, "0")}`;
const OWNER = Address.parse(`0:${"33".repeat(32)}`);
const PAYOUT = `0:${"22".repeat(32)}`;
const body = (content: string) => ({
  model: MODEL,
  messages: [{ role: "user" as const, content }],
  stream: true as const,
  max_tokens: 2,
});

/** Milliseconds from calling `start` until the first SSE event carrying content. */
async function sseFirstContent(start: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const res = await start();
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let text = "";
  let first: number | undefined;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    if (first === undefined && /"content":"[^"]/.test(text)) first = performance.now() - t0;
  }
  if (first === undefined) throw new Error(`no content in ${text.slice(0, 200)}`);
  return first;
}

async function sdkFirstToken(client: SilkClient, content: string): Promise<number> {
  const t0 = performance.now();
  let first: number | undefined;
  for await (const c of await client.chat.completions.create(body(content)))
    if (first === undefined && c.choices[0]?.delta.content) first = performance.now() - t0;
  if (first === undefined) throw new Error("no token");
  return first;
}

const post =
  (url: string, content: string, model = MODEL) =>
  () =>
    fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body(content), model }),
    });

export default async function main(): Promise<void> {
  const backend = await startOpenAiBackend({ tokenDelayMs: BACKEND_DELAY_MS });
  const signaling = createSignalingServer({ port: 0, host: "127.0.0.1", logger: createLogger("silent") });
  const { url } = await signaling.start();
  const identity = generateKeyPair();
  const chain = slowChain(
    CHAIN_READ_MS,
    new Map([[OWNER.toRawString(), { identityKey: identity.publicKey, payout: PAYOUT }]]),
  );
  const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
  await engine.load(MODEL);
  // The headless provider's own store: every receipt kept is fsynced before it earns credit.
  const dir = mkdtempSync(join(tmpdir(), "silk-first-token-"));
  const receipts = ReceiptLogStore.open(join(dir, "receipts.log"));
  const runtime = await ProviderRuntime.start({
    receipts,
    signalingUrl: url,
    identity,
    engine,
    models: [{ model: MODEL, price: flatPrice(1n) }],
    payout: PAYOUT,
    entry: { owner: OWNER.toString(), stake: 10n ** 12n, registeredAt: 1 },
    capacity: 4,
    wrtc,
    gate: accountGate(chain.escrow, { codeHash: chain.codeHash, minCloseDelay: 60, minimum: 1n }),
  });
  const open = (checked: boolean) =>
    connect({
      signalingUrl: url,
      sessionKey: generateKeyPair(),
      maxPrice: { promptNanoPerToken: 1n, completionNanoPerToken: 1n },
      escrow: nextEscrow(),
      wrtc,
      ...(checked && { trust: { registry: chain.registry } }),
    });

  const samples = {
    backend: [] as number[],
    sdkNew: [] as number[],
    sdkNewChecked: [] as number[],
    sdkReused: [] as number[],
    gwNew: [] as number[],
    gwReused: [] as number[],
  };
  const direct = post(backend.url, "hi", "backend-model");
  for (let i = 0; i < 3; i++) await sseFirstContent(direct); // warm up
  for (let i = 0; i < NEW_SAMPLES; i++) {
    samples.backend.push(await sseFirstContent(direct));
    // A new client each time: its first request pairs, connects, shakes hands and opens the account.
    const plain = await open(false);
    samples.sdkNew.push(await sdkFirstToken(plain, `new ${i}`));
    if (i < 3)
      for (let j = 0; j < REUSED_SAMPLES / 3; j++)
        samples.sdkReused.push(await sdkFirstToken(plain, "again"));
    plain.close();
    const checked = await open(true);
    samples.sdkNewChecked.push(await sdkFirstToken(checked, `checked ${i}`));
    checked.close();
    const client = await open(false);
    const gateway = await startGateway({ client });
    samples.gwNew.push(await sseFirstContent(post(gateway.url, `gw ${i}`)));
    if (i < 3)
      for (let j = 0; j < REUSED_SAMPLES / 3; j++)
        samples.gwReused.push(await sseFirstContent(post(gateway.url, "again")));
    await gateway.close();
    client.close();
  }
  const base = percentile(
    [...samples.backend].sort((a, b) => a - b),
    50,
  );
  const row = (path: string, xs: number[], goal: string) => {
    const s = [...xs].sort((a, b) => a - b);
    return {
      path,
      n: s.length,
      "p50 ms": fmt(percentile(s, 50), 1),
      "p90 ms": fmt(percentile(s, 90), 1),
      "added p50 ms": fmt(percentile(s, 50) - base, 1),
      goal,
    };
  };
  printTable(
    `Time to first token on loopback; backend's own first token after a fixed ${BACKEND_DELAY_MS} ms, chain reads ${CHAIN_READ_MS} ms each`,
    [
      row("backend called directly (baseline)", samples.backend, ""),
      row("SDK, new session", samples.sdkNew, "≤ 100 added"),
      row("SDK, new session, Registry + escrow checks", samples.sdkNewChecked, "≤ 100 added"),
      row("SDK, reused session", samples.sdkReused, "≤ 5 added"),
      row("gateway, new session", samples.gwNew, "≤ 100 added"),
      row("gateway, reused session", samples.gwReused, "≤ 5 added"),
    ],
  );
  console.log(
    `Chain reads: ${chain.reads.registry} Registry entries, ${chain.reads.escrow} escrow accounts, for ${NEW_SAMPLES * 3} new sessions.`,
  );
  runtime.stop();
  await signaling.close();
  await backend.close();
  await receipts.close();
  rmSync(dir, { recursive: true, force: true });
}
