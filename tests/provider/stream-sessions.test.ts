import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import {
  acceptSession,
  billablePromptTokens,
  type ChatRequest,
  encodeSignedReceipt,
  generateKeyPair,
  initiateSession,
  type KeyPair,
  Ledger,
  type ModelPrice,
  memoryPipe,
  NETWORK_ID,
  type SecureSession,
  type SessionMessage,
  signReceipt,
  streamId,
} from "../../protocol";
import { latestReceipt, MemoryReceiptStore } from "../../provider/receipt-store";
import { heldIn } from "../../provider/serving/held-receipts";
import { SessionServer } from "../../provider/serving/session-server";
import { Slots } from "../../provider/serving/slots";
import { StreamTabs } from "../../provider/serving/stream-tabs";
import { ScriptedEngine } from "../doubles/scripted-engine";

/**
 * A hostile requester against the provider's credit window, across sessions of one stream (one
 * session key, one payout): every session of a stream counts from the same cumulative receipt,
 * so what a provider streams on one session and what it streamed on another must add up.
 */
const ESCROW = Address.parse(`0:${"11".repeat(32)}`);
const PAYOUT = Address.parse(`0:${"22".repeat(32)}`);
const PRICE: ModelPrice = { nanoPerToken: 1000n, promptMultiplierBps: 10000, completionMultiplierBps: 10000 };
const STREAM = { network: NETWORK_ID.devnet, escrow: ESCROW, payout: PAYOUT, keyEpoch: 0 };
const WINDOW = 8;

interface Provider {
  readonly store: MemoryReceiptStore;
  readonly tabs: StreamTabs;
  readonly engine: ScriptedEngine;
}

function provider(): Provider {
  return {
    store: new MemoryReceiptStore(),
    tabs: new StreamTabs(),
    engine: new ScriptedEngine({ models: ["m"] }),
  };
}

/**
 * One session of the hostile requester: a real handshake and the real serving loop; the requester
 * side speaks the wire by hand and signs, per session, only what that session's own ledger says.
 */
async function hostileSession(p: Provider, sessionKey: KeyPair, window = WINDOW) {
  const identity = generateKeyPair();
  const [a, b] = memoryPipe();
  const ids = { sessionId: `s${Math.random()}`, requesterFingerprint: "x", providerFingerprint: "y" };
  const [requester, providerSide] = await Promise.all([
    initiateSession(a, { ...ids, providerIdentity: identity.publicKey, sessionKey }),
    acceptSession(b, { ...ids, identity }),
  ]);
  new SessionServer(providerSide, {
    engine: p.engine,
    models: [{ model: "m", price: PRICE }],
    network: NETWORK_ID.devnet,
    payout: PAYOUT,
    receipts: heldIn(p.store),
    slots: new Slots(4, 8),
    creditWindowTokens: window,
    tabs: p.tabs,
  });
  const seen: SessionMessage[] = [];
  requester.onMessage((m) => seen.push(m));
  return { requester, seen };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The code the session was ended with: its id-less error, or (the pipe closing first) its close reason. */
function whyEnded(s: { requester: SecureSession; seen: SessionMessage[] }): string | undefined {
  const error = s.seen.find((m) => m.t === "error" && !m.id);
  if (error?.t === "error") return error.error.code;
  const reason = s.requester.closeReason as { ending?: { code: string } } | undefined;
  return reason?.ending?.code;
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

/** Sends the base receipt (tokens, amount) and waits for the provider's account answer. */
async function openAccount(s: { requester: SecureSession; seen: SessionMessage[] }, key: KeyPair, base = 0n) {
  const receipt = signReceipt({ ...STREAM, tokens: base, amount: base * PRICE.nanoPerToken }, key);
  await s.requester.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(receipt) });
  await until(() => s.seen.some((m) => m.t === "account"), "account");
  return s.seen.find((m) => m.t === "account") as Extract<SessionMessage, { t: "account" }>;
}

/** Tokens the provider sent on a session (completion tokens and the prompts it billed). */
function streamed(seen: readonly SessionMessage[]): bigint {
  let n = 0n;
  for (const m of seen) {
    if (m.t === "tokens") n += BigInt(m.count);
    if (m.t === "done") n += BigInt(m.usage.prompt_tokens);
  }
  return n;
}

/** Asks for a long answer and waits until the provider stops it for credit. */
async function askUntilCreditWait(s: { requester: SecureSession; seen: SessionMessage[] }, id: string) {
  await s.requester.send({
    v: 1,
    t: "request",
    id,
    model: "m",
    messages: [{ role: "user", content: words(60) }],
  });
  await until(() => s.seen.some((m) => m.t === "credit-wait" && m.id === id), "credit wait");
}

describe("sessions of one stream share its credit window", () => {
  it("two live sessions of one key cannot each be paid by the same cumulative receipt", async () => {
    const p = provider();
    const key = generateKeyPair();
    // A window wider than any one answer here, so neither session ever waits for credit.
    const window = 64;
    const first = await hostileSession(p, key, window);
    expect((await openAccount(first, key)).accepted).toBe(true);
    const second = await hostileSession(p, key, window);
    expect((await openAccount(second, key)).accepted).toBe(true);

    // Each session signs only its own ledger: the receipt of whichever ran last is "newer" than
    // the other's, so without a shared count the requester pays max(a, b) for a + b.
    const ledgers = new Map([
      [first, new Ledger({ tokens: 0n, amount: 0n })],
      [second, new Ledger({ tokens: 0n, amount: 0n })],
    ]);
    let n = 0;
    for (const round of [20, 25, 30, 35]) {
      // The second asks a little more each round, so its receipt always overtakes the first's.
      for (const [s, size] of [
        [first, round],
        [second, round + 1],
      ] as const) {
        if (!s.requester.isOpen) continue;
        const id = `q${++n}`;
        const req: ChatRequest = {
          v: 1,
          t: "request",
          id,
          model: "m",
          messages: [{ role: "user", content: words(size) }],
        };
        await s.requester.send(req);
        await until(
          () => !s.requester.isOpen || s.seen.some((m) => (m.t === "done" || m.t === "error") && m.id === id),
          `answer ${id}`,
        );
        const done = s.seen.find((m) => m.t === "done" && m.id === id);
        if (done?.t !== "done") continue;
        const ledger = ledgers.get(s)!;
        ledger.start(id, PRICE);
        ledger.addCompletion(id, done.usage.completion_tokens);
        ledger.finish(id, billablePromptTokens(done.usage.prompt_tokens, req));
        const receipt = signReceipt({ ...STREAM, ...ledger.totals() }, key);
        await s.requester.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(receipt) });
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const record = await p.store.get(streamId(STREAM));
    const held = record ? latestReceipt(record).receipt.tokens : 0n;
    const sent = streamed(first.seen) + streamed(second.seen);
    // What the provider streamed and holds no receipt for: one credit window at most.
    expect(sent - held).toBeLessThanOrEqual(BigInt(window));
    // The first session was ended, told why, when the second opened on its stream.
    expect(first.requester.isOpen).toBe(false);
    expect(whyEnded(first)).toBe("SESSION_REPLACED");
  });

  it("a requester that never pays and opens a session again gets no new window on the same stream", async () => {
    const p = provider();
    const key = generateKeyPair();
    let unpaid = 0n;
    const refusals: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await hostileSession(p, key);
      const account = await openAccount(s, key);
      if (!account.accepted) {
        refusals.push(account.refusal?.code ?? "none");
        s.requester.close();
        continue;
      }
      await askUntilCreditWait(s, "free");
      unpaid += streamed(s.seen);
      s.requester.close();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(unpaid).toBeLessThanOrEqual(BigInt(WINDOW));
    expect(refusals).toEqual(["UNPAID_TOKENS", "UNPAID_TOKENS"]);
  });

  it("a requester that signs for what it got opens again with a full window", async () => {
    const p = provider();
    const key = generateKeyPair();
    const s = await hostileSession(p, key);
    await openAccount(s, key);
    await askUntilCreditWait(s, "free");
    const got = streamed(s.seen);
    s.requester.close();
    await new Promise((r) => setTimeout(r, 20));

    // Lost its session with tokens it never signed for; signs them in the next base receipt.
    const again = await hostileSession(p, key);
    const account = await openAccount(again, key, got);
    expect(account.accepted).toBe(true);
    await askUntilCreditWait(again, "next");
    expect(streamed(again.seen)).toBe(BigInt(WINDOW));
  });
});

describe("an honest requester that loses its session mid-answer", () => {
  it("is not refused for the prompt of the answer it never got, and opens again at once", async () => {
    const p = provider();
    const key = generateKeyPair();
    const s = await hostileSession(p, key);
    await openAccount(s, key);
    // Signs for every token as it arrives; the prompt (about 60 tokens, far over the window) is
    // billed only with `done`, which never comes: the session drops after 5 tokens.
    let got = 0n;
    s.requester.onMessage((m) => {
      if (m.t !== "tokens") return;
      got += BigInt(m.count);
      const receipt = signReceipt({ ...STREAM, tokens: got, amount: got * PRICE.nanoPerToken }, key);
      void s.requester.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(receipt) });
      if (got === 5n) s.requester.close();
    });
    await s.requester.send({
      v: 1,
      t: "request",
      id: "long",
      model: "m",
      messages: [{ role: "user", content: `${words(50)} ${words(50)}` }],
    });
    await until(() => !s.requester.isOpen, "dropped");
    await new Promise((r) => setTimeout(r, 50));
    const again = await hostileSession(p, key);
    const account = await openAccount(again, key, got);
    expect(account.refusal).toBeUndefined();
    expect(account.accepted).toBe(true);
  });
});

describe("a prompt is paid for before the next one is run", () => {
  it("a requester behind on receipts by a whole window gets no prefill of its next request", async () => {
    // Short answers, so only the prompt puts the requester a window behind.
    const p = { ...provider(), engine: new ScriptedEngine({ models: ["m"], reply: () => "ok fine" }) };
    const runs: string[] = [];
    const generate = p.engine.generate.bind(p.engine);
    p.engine.generate = (request, onChunk, signal) => {
      runs.push(String(request.messages.at(-1)?.content).slice(0, 8));
      return generate(request, onChunk, signal);
    };
    const key = generateKeyPair();
    const s = await hostileSession(p, key);
    await openAccount(s, key);
    // A long prompt (about 40 tokens billed when it ends) and a short answer: then no receipt.
    const ask = async (id: string, content: string) => {
      await s.requester.send({ v: 1, t: "request", id, model: "m", messages: [{ role: "user", content }] });
    };
    await ask("long", `first ${words(30)}`);
    await until(() => s.seen.some((m) => m.t === "done"), "first answer");
    await ask("next", "second one");
    await until(() => s.seen.some((m) => m.t === "credit-wait" && m.id === "next"), "credit wait");
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toEqual(["first w0"]);
    expect(s.seen.some((m) => m.t === "tokens" && m.id === "next")).toBe(false);
  });
});

describe("StreamTabs (pure)", () => {
  const holder = (streamed: bigint, receipted = 0n) => ({
    streamed: () => streamed,
    receipted: () => receipted,
    replaced: () => undefined,
  });
  it.each([
    // [reached by the session that ended, next base, window left (or refused)]
    [0n, 0n, 8],
    [5n, 0n, 3],
    [8n, 0n, "refused"],
    [30n, 25n, 3],
    [30n, 30n, 8],
    [30n, 40n, 8],
  ] as const)("a session that reached %s, the next opening at %s: %s", (reached, base, left) => {
    const tabs = new StreamTabs(60_000, () => 0);
    const first = tabs.open("s", 0n, 8, holder(reached));
    if ("unpaid" in first) throw new Error("first refused");
    first.close();
    const next = tabs.open("s", base, 8, holder(base));
    expect("unpaid" in next ? "refused" : next.windowTokens).toBe(left);
  });

  it("adds up what each session left unpaid: half a window twice is a whole one", () => {
    const tabs = new StreamTabs(60_000, () => 0);
    for (const expected of [8, 4]) {
      const tab = tabs.open("s", 0n, 8, holder(4n));
      if ("unpaid" in tab) throw new Error("refused too early");
      expect(tab.windowTokens).toBe(expected);
      tab.close();
    }
    expect(tabs.open("s", 0n, 8, holder(0n))).toEqual({ unpaid: 8n });
  });

  it("a session paid up to its end leaves nothing owed; a base past the newest receipt pays off the rest", () => {
    const tabs = new StreamTabs(60_000, () => 0);
    const paid = tabs.open("s", 0n, 8, holder(40n, 40n));
    if ("unpaid" in paid) throw new Error("refused");
    paid.close();
    expect(tabs.unpaid("s", 40n)).toBe(0n);
    const lost = tabs.open("s", 40n, 8, holder(50n, 44n)); // 6 streamed past its last receipt
    if ("unpaid" in lost) throw new Error("refused");
    lost.close();
    expect(tabs.unpaid("s", 44n)).toBe(6n);
    expect(tabs.unpaid("s", 48n)).toBe(2n); // the requester had signed for 4 of them at the end
    expect(tabs.unpaid("s", 50n)).toBe(0n);
  });

  it("forgets what a stream owes after its memory, and never mixes streams", () => {
    let now = 0;
    const tabs = new StreamTabs(60_000, () => now);
    const first = tabs.open("s", 0n, 8, holder(20n));
    if ("unpaid" in first) throw new Error("first refused");
    first.close();
    expect(tabs.unpaid("s", 0n)).toBe(20n);
    expect(tabs.unpaid("other", 0n)).toBe(0n);
    now = 60_001;
    expect(tabs.unpaid("s", 0n)).toBe(0n);
    expect("windowTokens" in tabs.open("s", 0n, 8, holder(0n))).toBe(true);
  });

  it("remembers at most its number of streams, forgetting the oldest first", () => {
    const tabs = new StreamTabs(60_000, () => 0, 2);
    for (const stream of ["a", "b", "c"]) {
      const tab = tabs.open(stream, 0n, 8, holder(20n));
      if ("unpaid" in tab) throw new Error(`${stream} refused`);
      tab.close();
    }
    expect([tabs.unpaid("a", 0n), tabs.unpaid("b", 0n), tabs.unpaid("c", 0n)]).toEqual([0n, 20n, 20n]);
  });
});
