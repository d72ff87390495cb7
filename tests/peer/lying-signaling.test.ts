import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HandshakeFailedError, NoProviderError, ProviderError } from "../../client/sdk/errors";
import { DEFAULT_DEADLINES } from "../../peer/session-machine";
import { encodePublicKey, flatPrice, generateKeyPair, maxPriceToWire } from "../../protocol";
import { ReceiptAccount } from "../../provider/serving/receipt-account";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { rewrite } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches } from "../support/mitm-signaling";
import { killProviderProcesses, startProviderProcess } from "../support/provider-process";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that lies, as an attacker would run one: it may deny service, never read or
 * alter a conversation, steer the requester to a provider it did not choose, or end a session it
 * does not carry. Each case checks what a user would (the answer, on the session it was asked on).
 */
// A probe of a live peer is answered in milliseconds; the long wait keeps a loaded machine from
// failing it (the kill case sets the default back).
const REQUESTER_DEADLINES = { frame: 3_000, account: 4_000, handshaking: 4_000, probe: 5_000 };
const PROVIDER_DEADLINES = { keepalive: 300, account: 6_000, handshaking: 6_000, probe: 5_000 };
const LONG =
  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
const OTHER_PAYOUT = `0:${"33".repeat(32)}`;

const network = mitmNetwork;
afterEach(async () => {
  vi.restoreAllMocks();
  killProviderProcesses();
  stopAll();
  await closeMitmNetworks();
});

async function provider(mitm: Mitm, label: string, model = "test-model", payout?: string, direct = false) {
  const engine = new ScriptedEngine({ models: [model], tokenDelayMs: 120, reply: () => LONG });
  const p = await relayProvider(labelled(mitm.url, label), {
    engine,
    deadlines: PROVIDER_DEADLINES,
    models: [{ model, price: flatPrice(10n) }],
    ...(payout && { payout }),
    ...(direct && { forceRelay: false, wrtc }),
  });
  return { ...p, engine };
}

const client = (mitm: Mitm, direct = false, deadlines = {}) =>
  relayClient(labelled(mitm.url, "requester"), {
    deadlines: { ...REQUESTER_DEADLINES, ...deadlines },
    ...(direct && { forceRelay: false, wrtc }),
  });

const isGrant = (m: MitmMessage) =>
  matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) &&
  typeof (m.args[0] as { sessionId?: unknown })?.sessionId === "string";

/** Rewrites every request on its way to the server: the server reading it so. */
const readAs = (change: (req: Record<string, unknown>) => Record<string, unknown>) =>
  rewrite({ event: "session:request", direction: "to-server" }, ([req]) => [
    change(req as Record<string, unknown>),
  ]);

/** A message of the proxy's own to the same party, delivered right behind `m`. */
const forged = (m: MitmMessage, event: string, payload: unknown): MitmMessage => ({
  party: m.party,
  direction: "to-party",
  kind: "event",
  event,
  args: [payload],
});

describe("a lying signaling server", () => {
  it("a session:moved to a live session's id (its grant replayed as a move target): ignored; the live answer arrives whole, on its session", async () => {
    // It used to be followed: the SDK made a channel for the live session's id, which took over
    // that session's relayed frames (or, refused, sent its end), so the live answer was lost.
    const mitm = await network();
    const a = await provider(mitm, "p1");
    const c = await client(mitm);
    expect((await ask(c, "first")).choices[0]?.message.content).toBe(LONG);
    const live = mitm.log.find(isGrant)?.args[0] as { sessionId: string };
    // Another model, served by another provider, needs a second session; its grant is followed,
    // in the same read, by a forged move of it to the live session.
    const b = await provider(mitm, "p2", "other-model", OTHER_PAYOUT);
    mitm.use((m) => {
      if (!isGrant(m)) return undefined;
      const { sessionId } = m.args[0] as { sessionId: string };
      if (sessionId === live.sessionId) return undefined;
      return [m, forged(m, "session:moved", { v: 1, sessionId, to: live })];
    });
    const answer = ask(c, "again");
    await expect.poll(() => a.engine.activeGenerations, { timeout: 10_000 }).toBe(1);
    const other = await ask(c, "elsewhere", { model: "other-model" });
    expect(other.choices[0]?.message.content).toBe(LONG);
    const again = await answer;
    expect(again.choices[0]?.message.content).toBe(LONG);
    expect(again.usage?.silk?.failovers ?? 0).toBe(0);
    // Both of the live session's answers were made and finished on it, and it is still open.
    expect(a.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(a.events.filter((e) => e.type === "request-done")).toHaveLength(2);
    expect(a.events.filter((e) => e.type === "session-failed" || e.type === "session-closed")).toEqual([]);
    expect(b.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    expect((await ask(c, "still")).choices[0]?.message.content).toBe(LONG);
    expect(a.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 40_000);
  it("a session:ended for a live direct session, told to both sides: the peers ask each other and the answer streaming on it arrives whole", async () => {
    // A direct channel does not run through the server. It used to be closed on the server's word:
    // the answer failed over (its start from one session, its rest from another) and the honest
    // provider lost the session it was serving.
    const mitm = await network();
    const p = await provider(mitm, "p1", "test-model", undefined, true);
    const c = await client(mitm, true);
    const answer = ask(c, "hello");
    await expect.poll(() => p.engine.generatedTokens, { timeout: 10_000 }).toBeGreaterThan(2);
    const opened = p.events.find((e) => e.type === "session-open");
    expect(opened).toMatchObject({ path: "direct" });
    const sessionId = opened?.type === "session-open" ? opened.sessionId : "";
    const [requester, prov] = ["requester", "p1"].map((label) => mitm.parties.find((x) => x.label === label));
    await Promise.all([
      requester?.inject("session:ended", { v: 1, sessionId, reason: "peer-disconnected" }, 50),
      prov?.inject("session:ended", { v: 1, sessionId, reason: "ended" }, 50),
    ]);
    const whole = await answer;
    expect(whole.choices[0]?.message.content).toBe(LONG);
    expect(whole.usage?.silk?.failovers ?? 0).toBe(0);
    expect(p.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(p.events.filter((e) => e.type === "session-closed")).toEqual([]);
    // The session goes on: the next question is answered on it.
    expect((await ask(c, "again")).choices[0]?.message.content).toBe(LONG);
    expect(p.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 40_000);

  it("a provider killed (SIGKILL) mid-answer over a direct channel: the server's notice, and no answer to the probe, move the answer on long before the frame deadline", async () => {
    // The same notice as above, true this time: the killed process sends nothing on any channel,
    // so without the server's word only the frame deadline would end the session.
    const mitm = await network();
    const killed = await startProviderProcess(labelled(mitm.url, "killed"), {
      tokenDelayMs: 60,
      reply: LONG,
    });
    const c = await client(mitm, true, { frame: 60_000, probe: DEFAULT_DEADLINES.probe });
    const stream = await c.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let failovers: number | undefined;
    let killedAt = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      failovers = chunk.usage?.silk?.failovers ?? failovers;
      if (killedAt === 0 && text.split(" ").length > 3) {
        await provider(mitm, "p2", "test-model", OTHER_PAYOUT, true);
        killedAt = Date.now();
        await killed.kill();
      }
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    expect(text.startsWith("one two three")).toBe(true);
    expect(text.endsWith(LONG)).toBe(true);
    expect(failovers).toBe(1);
  }, 60_000);
  it("a flood of forged moves (a hundred of the granted session, and a chain of a hundred): at most one move per session and eight per request are followed, and the request ends with a typed error", async () => {
    // Each move followed prepares a channel (a WebRTC peer connection, a Registry check of the
    // named provider): it used to follow every one, so a server could make the requester open as
    // many as it liked.
    const mitm = await network();
    await provider(mitm, "p1");
    const c = await client(mitm);
    mitm.use((m) => {
      if (!isGrant(m)) return undefined;
      const grant = m.args[0] as { sessionId: string };
      const id = (i: number) => `forged${String(i).padStart(6, "0")}`;
      const moves = [
        ...Array.from({ length: 100 }, (_, i) => ({
          v: 1,
          sessionId: grant.sessionId,
          to: { ...grant, sessionId: id(i) },
        })),
        ...Array.from({ length: 100 }, (_, i) => ({
          v: 1,
          sessionId: i === 0 ? grant.sessionId : id(1000 + i - 1),
          to: { ...grant, sessionId: id(1000 + i) },
        })),
      ];
      return [m, ...moves.map((move) => forged(m, "session:moved", move))];
    });
    const started = Date.now();
    const err = await ask(c, "hello").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(Date.now() - started).toBeLessThan(30_000);
    const prepared = new Set(
      mitm.log
        .filter((m) => m.event === "session:signal" && m.direction === "to-server")
        .map((m) => (m.args[0] as { sessionId: string }).sessionId),
    );
    expect(prepared.size).toBeGreaterThan(1);
    expect(prepared.size).toBeLessThanOrEqual(9);
  }, 40_000);
  it("a flood of forged offers to a provider: it takes a bounded number of unfinished sessions and refuses the rest, and still serves its requester", async () => {
    // Each offer taken prepares a channel (a WebRTC peer connection) that waits up to the
    // connecting and handshake deadlines: it used to take every one while a request had room.
    const mitm = await network();
    const p = await provider(mitm, "p1");
    const c = await client(mitm);
    expect((await ask(c, "first")).choices[0]?.message.content).toBe(LONG);
    const offer = mitm.log.find((m) => matches(m, { event: "session:offer", direction: "to-party" }));
    if (!offer) throw new Error("no offer passed the proxy");
    const real = offer.args[0] as Record<string, unknown>;
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        offer.party.inject("session:offer", {
          ...real,
          sessionId: `forgedoffer${String(i).padStart(4, "0")}`,
        }),
      ),
    );
    const taken = acks.filter((a) => (a as { ok?: boolean } | undefined)?.ok === true).length;
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThanOrEqual(p.runtime.slots.capacity + 8);
    expect(acks.filter((a) => (a as { ok?: boolean } | undefined)?.ok === false)).toHaveLength(60 - taken);
    expect((await ask(c, "again")).choices[0]?.message.content).toBe(LONG);
  }, 40_000);
  it("a grant whose payout address the server swapped: refused before any channel, QUOTE_FORGED naming the server and the address; the honest provider is not excluded", async () => {
    // It used to reach the provider, which refused the receipts (RECEIPT_BINDING); before that it
    // read as the provider's failure (excluded, NO_MODEL). The grant's payout is now checked
    // against the provider's signed quote first, so nothing goes to the provider at all.
    const attacker = `0:${"66".repeat(32)}`;
    const mitm = await network([
      rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([g]) => {
        const grant = g as { provider?: Record<string, unknown> };
        return grant.provider ? [{ ...grant, provider: { ...grant.provider, payout: attacker } }] : [g];
      }),
    ]);
    const p = await provider(mitm, "p1");
    const c = await client(mitm);
    await expectForged(mitm, c, attacker);
    expect(p.events.filter((e) => e.type === "receipt")).toEqual([]);
  }, 30_000);
  it("signals replayed to both sides of a live direct session (its SDP offer and answer, its candidates): ignored; the answer streaming on it arrives whole", async () => {
    // They used to reach simple-peer, which destroyed the live channel on an answer in the wrong
    // state: the request failed PROVIDER_LOST and the honest provider was excluded.
    const mitm = await network();
    const p = await provider(mitm, "p1", "test-model", undefined, true);
    const c = await client(mitm, true);
    const answer = ask(c, "hello");
    await expect.poll(() => p.engine.generatedTokens, { timeout: 10_000 }).toBeGreaterThan(2);
    expect(p.events.find((e) => e.type === "session-open")).toMatchObject({ path: "direct" });
    const signals = mitm.log.filter((m) => matches(m, { event: "session:signal", direction: "to-party" }));
    expect(signals.length).toBeGreaterThan(1);
    for (const s of signals) await s.party.inject("session:signal", s.args[0], 20);
    const whole = await answer;
    expect(whole.choices[0]?.message.content).toBe(LONG);
    expect(whole.usage?.silk?.failovers ?? 0).toBe(0);
    expect(p.events.filter((e) => e.type === "session-closed")).toEqual([]);
  }, 40_000);
  it("a grant whose price the server lowered: refused before any channel, QUOTE_FORGED naming the server; the provider is not excluded", async () => {
    // It used to end PRICE after the session opened, and the honest provider was excluded: the
    // requester could not tell the server's lie from a bait provider's.
    const mitm = await network([
      rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([g]) => {
        const grant = g as { provider?: { price: Record<string, unknown> } };
        if (!grant.provider) return [g];
        return [
          {
            ...grant,
            provider: { ...grant.provider, price: { ...grant.provider.price, nanoPerToken: "1" } },
          },
        ];
      }),
    ]);
    const p = await provider(mitm, "p1");
    const c = await client(mitm);
    await expectForged(mitm, c, "the provider's key did not sign");
    expect(p.events.filter((e) => e.type === "request-done" || e.type === "receipt")).toEqual([]);
  }, 30_000);
  it("a grant for another model than asked (the server read the request so; the provider's honest quote for it): QUOTE_FORGED naming the server, before any channel; the provider is not blamed", async () => {
    const mitm = await network([readAs((req) => ({ ...req, model: "other-model" }))]);
    const p = await provider(mitm, "p1", "other-model");
    await expectForged(mitm, await client(mitm), "the provider's key did not sign");
    expect(p.engine.generatedTokens).toBe(0);
    expect(p.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 30_000);
  it("a grant above the requester's maximum (the server read a higher one; the provider's honest quote): QUOTE_FORGED naming the server, before any channel; the provider is not blamed", async () => {
    // It used to open the channel, run the handshake and sign the base receipt to the provider,
    // then end PRICE_TOO_LOW at the request.
    const max = maxPriceToWire({ promptNanoPerToken: 10n ** 9n, completionNanoPerToken: 10n ** 9n });
    const mitm = await network([readAs((req) => ({ ...req, maxPrice: max }))]);
    const engine = new ScriptedEngine({ models: ["test-model"], reply: () => LONG });
    const p = await relayProvider(labelled(mitm.url, "p1"), {
      engine,
      deadlines: PROVIDER_DEADLINES,
      models: [{ model: "test-model", price: flatPrice(500n) }],
    });
    await expectForged(mitm, await client(mitm), "above the request's maximum (100 and 100)");
    expect(engine.generatedTokens).toBe(0);
    expect(p.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 30_000);
  it("an offer naming the provider another requester's session key: the provider refuses the handshake, serves nothing; the request ends NO_ANSWER naming the server and what ended it, nobody excluded", async () => {
    // It ended "no provider completed the handshake", naming neither the server nor what happened.
    const other = encodePublicKey(generateKeyPair().publicKey);
    const mitm = await network([
      rewrite({ event: "session:offer", direction: "to-party" }, ([o]) => [
        { ...(o as object), sessionKey: other },
      ]),
    ]);
    const p = await provider(mitm, "p1");
    const err = await ask(await client(mitm)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("NO_ANSWER");
    expect((err as Error).message).toContain(mitm.url);
    expect((err as Error).message).toContain("the last attempt ended: session ended");
    expect(p.events.filter((e) => e.type === "session-failed").map((e) => e.reason)).toContain("HANDSHAKE");
    expect(p.events.filter((e) => e.type === "session-open")).toEqual([]);
    expect(p.engine.generatedTokens).toBe(0);
    const excludes = mitm.log
      .filter((m) => m.event === "session:request" && m.direction === "to-server" && m.kind === "event")
      .map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);
    expect(excludes.flat()).toEqual([]);
  }, 30_000);
  it("a grant whose signed quote the server stripped, or whose signature it altered: QUOTE_FORGED naming the server", async () => {
    for (const [why, change] of [
      ["carries no signed quote", (q: Record<string, unknown>) => ({ ...q, quote: undefined })],
      [
        "did not sign",
        (q: Record<string, unknown>) => {
          const quote = q.quote as { signature: string };
          const flipped = (quote.signature[0] === "0" ? "1" : "0") + quote.signature.slice(1);
          return { ...q, quote: { ...quote, signature: flipped } };
        },
      ],
    ] as const) {
      const mitm = await network([
        rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([g]) => {
          const grant = g as { provider?: Record<string, unknown> };
          return grant.provider ? [{ ...grant, provider: change(grant.provider) }] : [g];
        }),
      ]);
      await provider(mitm, "p1");
      await expectForged(mitm, await client(mitm), why);
      await closeMitmNetworks();
    }
  }, 40_000);
  it("a bait provider (signs a low quote, asks more in the session) through an honest server: PRICE naming the provider, which is excluded", async () => {
    // Silk's own runtime honours its quote when the requester shows it (honoured-quote.ts); a bait
    // runs code that does not, which this stands for.
    vi.spyOn(ReceiptAccount.prototype, "priceOf").mockImplementation((m) => m.price);
    const mitm = await network();
    const models = [{ model: "test-model", price: flatPrice(5n) }];
    const bait = await relayProvider(labelled(mitm.url, "bait"), { models, deadlines: PROVIDER_DEADLINES });
    models[0] = { model: "test-model", price: flatPrice(90n) };
    const c = await client(mitm);
    const err = await ask(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("PRICE");
    const grant = mitm.log.find(isGrant)?.args[0] as { provider: { identityKey: string } };
    expect((err as Error).message).toContain(grant.provider.identityKey);
    expect((err as Error).message).toContain("signed quote");
    // Asked again without it: the requester excluded the provider that broke its own quote.
    const excludes = mitm.log
      .filter((m) => m.event === "session:request" && m.direction === "to-server")
      .map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);
    expect(excludes.at(-1)).toContain(grant.provider.identityKey);
    expect(bait.engine.generatedTokens).toBe(0);
  }, 30_000);
});

/** The request ends at once QUOTE_FORGED naming the server; asked once, nobody excluded, no signal sent. */
async function expectForged(mitm: Mitm, c: Awaited<ReturnType<typeof client>>, detail: string) {
  const err = await ask(c).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NoProviderError);
  expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
  expect((err as Error).message).toContain(mitm.url);
  expect((err as Error).message).toContain(detail);
  const requests = mitm.log.filter((m) => m.event === "session:request" && m.direction === "to-server");
  expect(requests).toHaveLength(1);
  expect((requests[0]?.args[0] as { exclude?: string[] } | undefined)?.exclude ?? []).toEqual([]);
  expect(mitm.log.filter((m) => m.event === "session:signal" && m.direction === "to-server")).toEqual([]);
  expect(mitm.log.filter((m) => m.event === "session:frame" && m.direction === "to-server")).toEqual([]);
}

describe("a server's session:ended during the handshake, before a direct channel is proven", () => {
  it("is believed (the server carries the signals, so it can deny the session anyway), but the provider is not blamed: the request is asked again and answered by it", async () => {
    const mitm = await network();
    let lied = false;
    mitm.use((m) => {
      if (lied || !isGrant(m)) return undefined;
      lied = true;
      const { sessionId } = m.args[0] as { sessionId: string };
      return [m, forged(m, "session:ended", { v: 1, sessionId, reason: "peer-disconnected" })];
    });
    const p = await provider(mitm, "p1", "test-model", undefined, true);
    const c = await client(mitm, true);
    const answer = await ask(c, "hello");
    expect(answer.choices[0]?.message.content).toBe(LONG);
    const excludes = mitm.log
      .filter((m) => m.event === "session:request" && m.direction === "to-server")
      .map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);
    expect(excludes.flat()).not.toContain(p.key);
  }, 40_000);
});

describe("a server steering the requester", () => {
  it("a grant naming one provider (its own signed quote, from an earlier grant) while the session goes to another: IDENTITY_MISMATCH naming the one granted; no prompt reaches the other", async () => {
    const mitm = await network();
    const a = await provider(mitm, "p1");
    const first = await client(mitm);
    expect((await ask(first, "first")).choices[0]?.message.content).toBe(LONG);
    const granted = mitm.log.find(isGrant)?.args[0] as { provider: { identityKey: string } };
    expect(granted.provider.identityKey).toBe(a.key);
    first.close();
    await a.runtime.stop();
    // Another registered provider, honest, on the same model: the server pairs the next request
    // with it but hands the requester the first provider's grant (a valid, signed quote).
    const b = await provider(mitm, "p2", "test-model", OTHER_PAYOUT);
    mitm.use((m) => {
      if (!isGrant(m)) return undefined;
      const g = m.args[0] as { provider: { identityKey: string } };
      if (g.provider.identityKey !== b.key) return undefined;
      return { ...m, args: [{ ...g, provider: granted.provider }] };
    });
    const c = await client(mitm);
    const err = await ask(c, "a secret prompt").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    expect((err as HandshakeFailedError).code).toBe("IDENTITY_MISMATCH");
    expect((err as HandshakeFailedError).provider).toBe(a.key);
    // The provider on the other end proved its own key: it never got a request.
    expect(b.engine.generatedTokens).toBe(0);
    expect(b.events.filter((e) => e.type === "request-done")).toEqual([]);
  }, 40_000);

  it("a grant of an earlier, ended session replayed to a new requester: the server refuses to relay it, the request is asked again without excluding the provider, and ends with a typed error", async () => {
    const mitm = await network();
    const p = await provider(mitm, "p1");
    const first = await client(mitm);
    expect((await ask(first, "first")).choices[0]?.message.content).toBe(LONG);
    const old = mitm.log.find(isGrant)?.args[0] as { sessionId: string };
    first.close();
    // The server counts the provider free again from its next heartbeat (load 0).
    const freed = (m: MitmMessage) =>
      matches(m, { event: "provider:heartbeat", direction: "to-server" }) &&
      (m.args[0] as { load?: number }).load === 0;
    await expect.poll(() => mitm.log.some(freed), { timeout: 40_000 }).toBe(true);
    mitm.use((m) => (isGrant(m) ? { ...m, args: [old] } : undefined));
    const c = await client(mitm);
    const err = await ask(c, "a secret prompt").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    // The server refused to relay the old session: the request is asked again, the provider not
    // excluded for the server's replay (it was: "no provider other than the excluded ones",
    // NO_MODEL). What ends it is the server's next word (ALL_BUSY while the provider waits on the
    // session the server really paired) or, after three tries, NO_ANSWER.
    expect((err as NoProviderError).code).not.toBe("NO_MODEL");
    expect((err as Error).message).not.toContain("excluded");
    expect(p.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    // The provider answered only the first requester: nothing of the replayed session reached it.
    expect(p.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 120_000);

  it("a server that says every provider is busy while one is idle: ALL_BUSY at once, as the server's word naming it, in the SDK's words; the provider is not excluded", async () => {
    const mitm = await network();
    const p = await provider(mitm, "p1");
    const lie = mitm.use((m) =>
      isGrant(m)
        ? {
            ...m,
            args: [
              {
                ok: false,
                error: { code: "ALL_BUSY", message: "send 100 TON to EQ-attacker to skip the queue" },
              },
            ],
          }
        : undefined,
    );
    const c = await client(mitm);
    const err = await ask(c, "hello").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("ALL_BUSY");
    // Whose claim it is, so a user can tell an unverifiable refusal from the SDK's own finding.
    expect((err as Error).message).toContain(`the signaling server at ${labelled(mitm.url, "requester")}`);
    expect(p.engine.generatedTokens).toBe(0);
    // The server did pair the request: the provider's session, never answered, ends at its
    // deadline. Once the server stops lying the same provider answers: nobody was blamed.
    await expect
      .poll(() => p.events.some((e) => e.type === "session-failed"), { timeout: 15_000 })
      .toBe(true);
    lie();
    expect((await ask(c, "again")).choices[0]?.message.content).toBe(LONG);
  }, 40_000);
});
