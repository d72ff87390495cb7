import wrtc from "@roamhq/wrtc";
import { expect } from "vitest";
import { startGateway } from "../../client/gateway/gateway-server";
import { ProviderError } from "../../client/sdk/errors";
import type { PaymentAccount } from "../../client/sdk/payment-account";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import {
  contentText,
  type DirectorySnapshot,
  flatPrice,
  generateKeyPair,
  type SignedReceipt,
  SilkError,
  type StreamKey,
  streamId,
} from "../../protocol";
import { latestReceipt, MemoryReceiptStore } from "../../provider/receipt-store";
import { ProviderRuntime } from "../../provider/runtime";
import type { EngineRequest } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * A small Silk network for fault tests: providers and requesters (SDK, and the gateway over one)
 * as real clients of signaling processes the tests kill and restart. Providers each have their own
 * payout address and requesters their own key epoch, so each pair has its own receipt stream.
 */
export const MODEL = "test-model";
const ESCROW = `0:${"11".repeat(32)}`;
const MAX = { promptNanoPerToken: 100n, completionNanoPerToken: 100n };

export const LONG_QUESTION = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");

/**
 * The echo of the last question, continued from the partial answer a failover hands over (as the
 * last assistant message): a complete answer is then the whole echo exactly once, so a token lost
 * or repeated across a failover shows.
 */
function continueEcho(request: EngineRequest): string {
  const last = (role: string) => {
    const content = [...request.messages].reverse().find((m) => m.role === role)?.content;
    return content == null ? undefined : contentText(content);
  };
  const full = `Echo: ${last("user") ?? ""}`;
  const partial = last("assistant") ?? "";
  return full.startsWith(partial) ? full.slice(partial.length) : full;
}

/** Keeps every receipt the requester signed, so a test can compare them with what providers hold. */
export class RecordingAccount implements PaymentAccount {
  readonly streams = new Map<string, SignedReceipt>();
  async last(stream: StreamKey): Promise<SignedReceipt | undefined> {
    return this.streams.get(streamId(stream));
  }
  async save(receipt: SignedReceipt): Promise<void> {
    this.streams.set(streamId(receipt.receipt), receipt);
  }
}

export class FaultyNetwork {
  readonly providers: ProviderRuntime[] = [];
  readonly requesters: { client: SilkClient; account: RecordingAccount }[] = [];
  private readonly closers: (() => unknown)[] = [];
  private payouts = 0;

  async provider(urls: string | string[], opts: { tokenDelayMs?: number } = {}): Promise<ProviderRuntime> {
    const payout = `0:${(++this.payouts).toString(16).padStart(2, "0").repeat(32)}`;
    const runtime = await ProviderRuntime.start({
      signalingUrl: urls,
      identity: generateKeyPair(),
      engine: new ScriptedEngine({ tokenDelayMs: opts.tokenDelayMs ?? 30, reply: continueEcho }),
      models: [{ model: MODEL, price: flatPrice(10n) }],
      payout,
      capacity: 2,
      receipts: new MemoryReceiptStore(),
      wrtc,
    });
    this.providers.push(runtime);
    this.closers.push(() => runtime.stop());
    return runtime;
  }

  async requester(urls: string | string[], opts: { forceRelay?: boolean } = {}) {
    const account = new RecordingAccount();
    const client = await connect({
      signalingUrl: urls,
      sessionKey: generateKeyPair(),
      // Each key has its own epoch in the escrow, so its own receipt stream at a provider.
      keyEpoch: this.requesters.length,
      maxPrice: MAX,
      escrow: ESCROW,
      account,
      wrtc,
      idleCloseMs: 300,
      receiptEvery: 4,
      ...(opts.forceRelay && { forceRelay: true }),
    });
    const r = { client, account };
    this.requesters.push(r);
    this.closers.push(() => client.close());
    return r;
  }

  /** The gateway, over its own SDK requester: returns its OpenAI base URL. */
  async gateway(urls: string | string[]): Promise<string> {
    const { client } = await this.requester(urls);
    const gw = await startGateway({ client });
    this.closers.push(() => gw.close());
    return gw.url;
  }

  /**
   * The network every fault test uses: two providers, a requester on a direct channel, one on the
   * relay, and the gateway, each given its signaling URLs; both requesters have asked once, so
   * their sessions are open before the faults, as in a network that has been running.
   */
  async populate(urls: {
    providers: readonly [string | string[], string | string[]];
    requesters: string | string[];
    gateway: string | string[];
  }) {
    for (const u of urls.providers) await this.provider(u);
    const direct = (await this.requester(urls.requesters)).client;
    const relayed = (await this.requester(urls.requesters, { forceRelay: true })).client;
    const gateway = await this.gateway(urls.gateway);
    expect(await ask(direct)).toBe("Echo: ping");
    expect(await ask(relayed)).toBe("Echo: ping");
    return { direct, relayed, gateway };
  }

  close(): void {
    for (const c of this.closers.splice(0).reverse()) c();
  }

  /**
   * Nothing paid twice: each provider holds, per stream, no more than the requester signed on it
   * (the escrow pays a stream's cumulative amount once), and every requester stream is held by
   * exactly one provider (its payout).
   */
  async expectPaidOnce(): Promise<void> {
    const signed = new Map<string, bigint>();
    for (const r of this.requesters)
      for (const [id, s] of r.account.streams) signed.set(id, s.receipt.amount);
    const holders = new Map<string, number>();
    for (const p of this.providers) {
      for (const record of await p.receipts.list()) {
        holders.set(record.id, (holders.get(record.id) ?? 0) + 1);
        const held = latestReceipt(record).receipt.amount;
        expect(signed.get(record.id)).toBeDefined();
        expect(held).toBeLessThanOrEqual(signed.get(record.id)!);
      }
    }
    for (const n of holders.values()) expect(n).toBe(1);
  }
}

export async function directory(url: string): Promise<DirectorySnapshot> {
  const res = await fetch(`${url}/api/models`);
  return (await res.json()) as DirectorySnapshot;
}

export function placesInUse(d: DirectorySnapshot): number {
  return d.models.reduce((n, m) => n + m.inUse, 0);
}

/** Polls `check` until it holds; returns when it first did (ms since epoch), or throws after `deadlineMs`. */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  deadlineMs: number,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (await check().catch(() => false)) return Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms`);
}

/** `p`, or a failure naming `what` after `ms`: every wait in a fault test has a deadline. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export type Outcome =
  | { readonly ok: true; readonly text: string; readonly failovers: number }
  | { readonly ok: false; readonly code: string; readonly error: unknown };

interface Chunk {
  choices: { delta: { content?: string | null } }[];
  usage?: { silk?: { failovers?: number } } | null;
}

/** An answer streamed through the gateway fails with the code in its `error` (a status or an SSE event). */
class GatewayError extends Error {
  constructor(readonly code: string) {
    super(`the gateway answered ${code}`);
  }
}

/** The chunks of an answer streamed through the gateway, read off its SSE as an OpenAI client would. */
async function* gatewayChunks(base: string): AsyncGenerator<Chunk> {
  const res = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: LONG_QUESTION }],
      stream: true,
    }),
  });
  const typed = (body: unknown) =>
    new GatewayError(String((body as { error?: { code?: unknown } }).error?.code ?? `HTTP_${res.status}`));
  if (res.status !== 200 || !res.body) throw typed(await res.json().catch(() => ({})));
  let buffered = "";
  for await (const bytes of res.body.pipeThrough(new TextDecoderStream())) {
    buffered += bytes;
    const events = buffered.split("\n\n");
    buffered = events.pop() ?? "";
    for (const e of events) {
      // A comment (the gateway's `: keep-alive` while a first token is slow) carries no event.
      if (e.startsWith(":")) continue;
      const data = e.replace(/^data: /, "");
      if (data === "[DONE]") return;
      const parsed = JSON.parse(data) as Chunk & { error?: unknown };
      if (parsed.error) throw typed(parsed);
      yield parsed;
    }
  }
  throw new GatewayError("STREAM_CUT");
}

/**
 * Starts a streamed answer (through the SDK, or the gateway's HTTP API given its URL); `started`
 * resolves once text is flowing, `done` with how it ended: complete, or a typed error (anything
 * untyped fails the test). `done` never waits past `deadlineMs`: a hang is a failure too.
 */
export function inFlight(through: SilkClient | string, deadlineMs: number) {
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((r) => {
    markStarted = r;
  });
  const run = (async (): Promise<Outcome> => {
    try {
      const stream: AsyncIterable<Chunk> =
        typeof through === "string"
          ? gatewayChunks(through)
          : await through.chat.completions.create({
              model: MODEL,
              messages: [{ role: "user", content: LONG_QUESTION }],
              stream: true,
              stream_options: { include_usage: true },
            });
      let text = "";
      let failovers = 0;
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? "";
        failovers = c.usage?.silk?.failovers ?? failovers;
        if (text.length > 0) markStarted();
      }
      return { ok: true, text, failovers };
    } catch (error) {
      markStarted();
      if (error instanceof ProviderError || error instanceof SilkError || error instanceof GatewayError)
        return { ok: false, code: error.code, error };
      throw error;
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`answer still in flight after ${deadlineMs} ms`)), deadlineMs);
  });
  const done = Promise.race([run, deadline]).finally(() => clearTimeout(timer));
  return { started, done };
}

/** A complete answer is the whole echo, once: no token lost or repeated across a failover. */
export function expectWholeAnswer(o: Outcome): void {
  if (o.ok) expect(o.text).toBe(`Echo: ${LONG_QUESTION}`);
  else expect(o.code).toMatch(/^[A-Z_]+$/);
}

export async function ask(client: SilkClient, question = "ping"): Promise<string> {
  const r = await within(
    client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: question }] }),
    30_000,
    "an answer",
  );
  return r.choices[0]?.message.content ?? "";
}

export async function askGateway(base: string, question = "ping"): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/chat/completions`, {
    signal: AbortSignal.timeout(30_000),
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: question }] }),
  });
  const body = (await res.json()) as { choices?: { message: { content: string } }[] };
  return { status: res.status, text: body.choices?.[0]?.message.content ?? "" };
}
