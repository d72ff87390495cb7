import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError, ProviderError, ProviderLostError, StalledError } from "../../client/sdk/errors";
import { decodeSignedReceipt } from "../../protocol/receipt";
import { MemoryReceiptStore } from "../../provider/receipt-store";
import type { RuntimeEvent } from "../../provider/runtime";
import type { ChunkSink, EngineRequest, EngineResult } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { frames, killAfter } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import type { Match, Mitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The provider vanishes (its connection killed, as a closed tab) at each stage of the journey,
 * one table row per stage, through the real signaling server with the man in the middle between
 * the parties. With a second provider online the answer moves to it whole; alone, the request
 * ends with a typed error. Either way it ends within its deadlines, the survivor's place and
 * engine are free afterwards, and no receipt signs for more tokens than the requester was given.
 */
const REQUESTER_DEADLINES = {
  requested: 4_000,
  connecting: 3_000,
  handshaking: 3_000,
  account: 3_000,
  frame: 2_000,
};
const PROVIDER_DEADLINES = { credit: 1_500, keepalive: 300, account: 6_000, handshaking: 6_000 };
/** A request ends within the sum of the deadlines it can pass through, plus a loaded machine's slack. */
const BOUND_MS = 20_000;
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";

/** A test double of a wedged GPU: no token ever, until the generation is aborted. */
class HungEngine extends ScriptedEngine {
  override generate(_r: EngineRequest, _c: ChunkSink, signal?: AbortSignal): Promise<EngineResult> {
    this.activeGenerations++;
    return new Promise((resolve) => {
      const stop = () => {
        this.activeGenerations--;
        resolve({ finishReason: "abort", promptTokens: PROMPT_TOKENS, completionTokens: 0 });
      };
      if (signal?.aborted) stop();
      else signal?.addEventListener("abort", stop, { once: true });
    });
  }
}

afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

interface Stage {
  readonly stage: string;
  /** The message whose arrival kills the provider's connection (it is not delivered). */
  readonly at: Match;
  /** How many matching messages pass first. */
  readonly after: number;
  readonly direct?: boolean;
  /** The code a request ends with when no other provider can take it. */
  readonly alone: string;
}

const fromProvider = (event: string): Match => ({ event, direction: "to-server", role: "provider" });
const STAGES: Stage[] = [
  // Pairing, before the provider took the offer: the server moves the session to another.
  {
    stage: "pairing (the offer reaches it)",
    at: { event: "session:offer", direction: "to-party", role: "provider" },
    after: 0,
    alone: "NO_ANSWER",
  },
  {
    stage: "ICE (its first candidate)",
    at: fromProvider("session:signal"),
    after: 0,
    direct: true,
    alone: "NO_MODEL",
  },
  {
    stage: "the handshake (its HELLO reply)",
    at: fromProvider("session:frame"),
    after: 0,
    alone: "NO_MODEL",
  },
  {
    stage: "after the base receipt (its account)",
    at: fromProvider("session:frame"),
    after: 1,
    alone: "NO_MODEL",
  },
  { stage: "mid-stream", at: fromProvider("session:frame"), after: 4, alone: "PROVIDER_LOST" },
  // HELLO, AUTH, the base receipt, the request: the next frame to the provider is a receipt.
  { stage: "while the requester signs a receipt", at: frames("provider"), after: 4, alone: "PROVIDER_LOST" },
];
/** The scripted engine's count for the one-message prompt "hello". */
const PROMPT_TOKENS = 14;

async function party(mitm: Mitm, label: string, direct: boolean) {
  const engine = new ScriptedEngine({ tokenDelayMs: 30, reply: () => LONG });
  const p = await relayProvider(labelled(mitm.url, label), {
    engine,
    deadlines: PROVIDER_DEADLINES,
    creditWindowTokens: 4,
    ...(direct && { forceRelay: false, wrtc }),
  });
  return { ...p, engine };
}

const receiptTokens = (events: RuntimeEvent[]) =>
  events.flatMap((e) => (e.type === "receipt" ? [Number(e.receipt.receipt.tokens)] : []));

async function run(row: Stage, withSecond: boolean) {
  const mitm = await mitmNetwork([killAfter(row.after, row.at)]);
  const direct = row.direct ?? false;
  const first = await party(mitm, "p1", direct);
  const client = await relayClient(labelled(mitm.url, "requester"), {
    deadlines: REQUESTER_DEADLINES,
    receiptEvery: 2,
    ...(direct && { forceRelay: false, wrtc }),
  });
  const second = withSecond ? await party(mitm, "p2", direct) : undefined;
  const start = Date.now();
  const value = await ask(client).catch((e: unknown) => e);
  const ms = Date.now() - start;
  const killed = mitm.log.some((m) => m.party.killed && m.party.role === "provider");
  return { value, ms, killed, parties: second ? [first, second] : [first] };
}

describe("the provider vanishes at each stage", () => {
  it.each(STAGES)(
    "$stage: alone, a typed error in bounded time; the places free",
    async (row) => {
      const { value, ms, killed, parties } = await run(row, false);
      expect(killed).toBe(true);
      expect(value).toBeInstanceOf(ProviderError);
      expect((value as ProviderError).code).toBe(row.alone);
      expect(ms).toBeLessThan(BOUND_MS);
      // Signed for the prompt and the tokens that reached the requester, never more.
      const delivered = value instanceof ProviderLostError ? value.tokens : 0;
      for (const p of parties) {
        await expect.poll(() => p.engine.activeGenerations, { timeout: 10_000 }).toBe(0);
        for (const t of receiptTokens(p.events)) expect(t).toBeLessThanOrEqual(PROMPT_TOKENS + delivered);
      }
    },
    40_000,
  );

  it.each(STAGES)(
    "$stage: with a second provider, the answer arrives whole from it",
    async (row) => {
      const { value, ms, killed, parties } = await run(row, true);
      expect(killed).toBe(true);
      expect(value).not.toBeInstanceOf(Error);
      const answer = value as Awaited<ReturnType<typeof ask>>;
      expect(answer.choices[0]?.message.content?.endsWith(LONG)).toBe(true);
      expect(ms).toBeLessThan(BOUND_MS);
      for (const p of parties) {
        await expect.poll(() => p.engine.activeGenerations, { timeout: 10_000 }).toBe(0);
        await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
      }
    },
    40_000,
  );
});

describe("the other party's faults", () => {
  it("the requester vanishes mid-answer: the provider frees its place and keeps the newest receipt it was given", async () => {
    // The requester's connection dies as it sends its first receipt after the request.
    const mitm = await mitmNetwork([
      killAfter(4, { event: "session:frame", direction: "to-server", role: "requester" }),
    ]);
    const receipts = new MemoryReceiptStore();
    const p = await relayProvider(labelled(mitm.url, "p1"), {
      engine: new ScriptedEngine({ tokenDelayMs: 30, reply: () => LONG }),
      deadlines: PROVIDER_DEADLINES,
      creditWindowTokens: 4,
      receipts,
    });
    const client = await relayClient(labelled(mitm.url, "requester"), {
      deadlines: REQUESTER_DEADLINES,
      receiptEvery: 2,
    });
    const value = await ask(client).catch((e: unknown) => e);
    expect(mitm.log.some((m) => m.party.killed && m.party.role === "requester")).toBe(true);
    // Not the provider's fault: the answer goes on, on a new session with the same provider.
    expect((value as Awaited<ReturnType<typeof ask>>).choices[0]?.message.content?.endsWith(LONG)).toBe(true);
    await expect.poll(() => p.engine.activeGenerations, { timeout: 10_000 }).toBe(0);
    await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
    const given = Math.max(...receiptTokens(p.events));
    expect(given).toBeGreaterThan(PROMPT_TOKENS);
    const kept = (await receipts.list()).map((r) => Number(decodeSignedReceipt(r.latest).receipt.tokens));
    expect(Math.max(...kept)).toBe(given);
  }, 40_000);

  it("an engine that hangs while its provider keeps saying 'working': StalledError once `progress` runs out, the engine and place freed", async () => {
    // It used to wait for ever: every `progress` reset the requester's frame deadline.
    const mitm = await mitmNetwork([]);
    const engine = new HungEngine();
    const p = await relayProvider(labelled(mitm.url, "p1"), { engine, deadlines: PROVIDER_DEADLINES });
    const client = await relayClient(labelled(mitm.url, "requester"), {
      deadlines: { ...REQUESTER_DEADLINES, progress: 2_000 },
    });
    const start = Date.now();
    const outcome = await Promise.race([
      ask(client).catch((e: unknown) => e),
      new Promise((r) => setTimeout(() => r("still waiting"), BOUND_MS)),
    ]);
    expect(outcome).toBeInstanceOf(StalledError);
    expect(Date.now() - start).toBeLessThan(BOUND_MS);
    await expect.poll(() => engine.activeGenerations, { timeout: 10_000 }).toBe(0);
    await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
  }, 40_000);

  it("a full provider (one place, no queue): the request that finds no room ends ALL_BUSY at its queue deadline, and the next one is answered", async () => {
    const mitm = await mitmNetwork([]);
    const p = await relayProvider(labelled(mitm.url, "p1"), {
      engine: new ScriptedEngine({ tokenDelayMs: 150, reply: () => LONG }),
      deadlines: PROVIDER_DEADLINES,
      capacity: 1,
      maxWaiting: 0,
    });
    const client = await relayClient(labelled(mitm.url, "requester"), {
      deadlines: REQUESTER_DEADLINES,
      queueTimeoutMs: 500,
    });
    const first = ask(client, "first");
    await expect.poll(() => p.engine.activeGenerations, { timeout: 10_000 }).toBe(1);
    const start = Date.now();
    const refused = await ask(client, "second").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoProviderError);
    expect((refused as NoProviderError).code).toBe("ALL_BUSY");
    expect(Date.now() - start).toBeLessThan(BOUND_MS);
    expect((await first).choices[0]?.message.content).toBe(LONG);
    await expect.poll(() => p.runtime.slots.load, { timeout: 10_000 }).toBe(0);
    expect((await ask(client, "third")).choices[0]?.message.content).toBe(LONG);
  }, 40_000);
});
