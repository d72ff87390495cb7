import { describe, expect, it } from "vitest";
import {
  backoffMs,
  type ConnEvent,
  type ConnState,
  dialTimeoutMs,
  type Effect,
  initialState,
  MAX_RETRY_AFTER_MS,
  type Phase,
  retryAfterWaitMs,
  step,
} from "../../peer/connection-machine";

/** The connection lifecycle as a table: from a state, an event gives a state and effects. */
const half = () => 0.5;
const cfg = (urls: number) => ({ urls, random: half });
const at = (phase: Phase, over: Partial<ConnState> = {}): ConnState => ({
  phase,
  url: 0,
  attempt: 0,
  provider: false,
  paused: false,
  ...over,
});

type Row = [string, ConnState, ConnEvent, number, Partial<ConnState>, Effect[]];

const rows: Row[] = [
  ["a requester connects", at("connecting"), { type: "connected" }, 1, { phase: "connected" }, []],
  [
    "a provider connects and registers at once",
    at("connecting", { provider: true, attempt: 3 }),
    { type: "connected" },
    1,
    { phase: "registering", attempt: 0 },
    [{ do: "register" }],
  ],
  [
    "the owner's first registration makes it a provider",
    at("connected"),
    { type: "registered" },
    1,
    { phase: "registered", provider: true },
    [],
  ],
  [
    "a dropped connection waits once, then dials the next URL",
    at("registered", { provider: true, url: 1 }),
    { type: "lost" },
    3,
    { phase: "reconnecting", url: 2, attempt: 0 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: backoffMs(0, half) },
    ],
  ],
  [
    "a failed dial waits longer (never gives up)",
    at("connecting", { attempt: 9 }),
    { type: "lost" },
    1,
    { phase: "reconnecting", url: 0, attempt: 10 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: backoffMs(10, half) },
    ],
  ],
  [
    "a node turning the dial away as overloaded is given the time it asked for, and a jittered part more",
    at("connecting", { provider: true }),
    { type: "lost", retryAfterMs: 8_000 },
    1,
    { phase: "reconnecting", attempt: 1 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: 9_000 }, // 8 s, plus half (the random part) of a quarter of it
    ],
  ],
  [
    "a shorter time to come back than the backoff: the backoff",
    at("connecting", { attempt: 9 }),
    { type: "lost", retryAfterMs: 100 },
    1,
    { phase: "reconnecting", attempt: 10 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: backoffMs(10, half) },
    ],
  ],
  [
    "an overloaded node among several: the next one after the ordinary backoff",
    at("connecting", { url: 0 }),
    { type: "lost", retryAfterMs: 30_000 },
    2,
    { phase: "reconnecting", url: 1, attempt: 1 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: backoffMs(1, half) },
    ],
  ],
  [
    "the wait ends: dial",
    at("reconnecting", { url: 2 }),
    { type: "timer" },
    3,
    { phase: "connecting" },
    [{ do: "dial", url: 2 }],
  ],
  [
    "a second loss while waiting changes nothing",
    at("reconnecting", { attempt: 4 }),
    { type: "lost" },
    1,
    { phase: "reconnecting", attempt: 4 },
    [],
  ],
  [
    "the node is leaving: move to another at once",
    at("registered", { provider: true }),
    { type: "server-shutdown" },
    2,
    { phase: "moving", url: 1 },
    [{ do: "cancel-wait" }, { do: "hang-up", why: "shutdown" }, { do: "dial", url: 1 }],
  ],
  [
    "the only node is leaving: wait for it to come back",
    at("connected"),
    { type: "server-shutdown" },
    1,
    { phase: "reconnecting", url: 0 },
    [{ do: "cancel-wait" }, { do: "hang-up", why: "shutdown" }, { do: "wait", ms: backoffMs(1, half) }],
  ],
  [
    "the node lied (a forged grant): move to another at once",
    at("connected", { url: 1 }),
    { type: "distrusted" },
    3,
    { phase: "moving", url: 2 },
    [{ do: "cancel-wait" }, { do: "hang-up", why: "lost" }, { do: "dial", url: 2 }],
  ],
  [
    "the only node lied: stay (the owner decides)",
    at("connected"),
    { type: "distrusted" },
    1,
    { phase: "connected" },
    [],
  ],
  [
    "a lie heard while down changes nothing",
    at("reconnecting", { url: 1 }),
    { type: "distrusted" },
    2,
    { phase: "reconnecting", url: 1 },
    [],
  ],
  [
    "moved, and the next node answers",
    at("moving", { provider: true, url: 1 }),
    { type: "connected" },
    2,
    { phase: "registering" },
    [{ do: "register" }],
  ],
  [
    "moved, and the next node is down too",
    at("moving", { url: 1 }),
    { type: "lost" },
    2,
    { phase: "reconnecting", url: 0, attempt: 1 },
    [
      { do: "hang-up", why: "lost" },
      { do: "wait", ms: backoffMs(1, half) },
    ],
  ],
  [
    "the server forgot us: register again",
    at("registered", { provider: true }),
    { type: "unregistered" },
    1,
    { phase: "registering" },
    [{ do: "register" }],
  ],
  [
    "the quotes are halfway through their life: register again with fresh ones",
    at("registered", { provider: true }),
    { type: "renew" },
    1,
    { phase: "registering" },
    [{ do: "register" }],
  ],
  [
    "a renewal due while paused registers nothing",
    at("connected", { provider: true, paused: true }),
    { type: "renew" },
    1,
    { phase: "connected" },
    [],
  ],
  [
    "a refused registration is retried after a backoff",
    at("registering", { provider: true, attempt: 2 }),
    { type: "register-failed" },
    1,
    { phase: "registering", attempt: 3 },
    [{ do: "wait", ms: backoffMs(2, half) }],
  ],
  [
    "the registration retry is due",
    at("registering", { provider: true }),
    { type: "timer" },
    1,
    { phase: "registering" },
    [{ do: "register" }],
  ],
  [
    "a late registration answer after a loss is ignored",
    at("reconnecting", { provider: true }),
    { type: "registered" },
    1,
    { phase: "reconnecting" },
    [],
  ],
  [
    "a requester is never asked to register",
    at("connected"),
    { type: "unregistered" },
    1,
    { phase: "connected" },
    [],
  ],
  [
    "close ends everything",
    at("registered", { provider: true }),
    { type: "close" },
    1,
    { phase: "closed" },
    [{ do: "cancel-wait" }, { do: "hang-up", why: "closed" }],
  ],
  [
    "pausing a listed provider unregisters and keeps the connection",
    at("registered", { provider: true }),
    { type: "pause" },
    1,
    { phase: "connected", paused: true },
    [{ do: "cancel-wait" }, { do: "unregister" }],
  ],
  [
    "pausing mid-registration stops its retries and unregisters",
    at("registering", { provider: true, attempt: 2 }),
    { type: "pause" },
    1,
    { phase: "connected", attempt: 0, paused: true },
    [{ do: "cancel-wait" }, { do: "unregister" }],
  ],
  [
    "a registration answered after pausing is undone",
    at("connected", { provider: true, paused: true }),
    { type: "registered" },
    1,
    { phase: "connected" },
    [{ do: "unregister" }],
  ],
  [
    "a paused provider that reconnects stays unlisted",
    at("connecting", { provider: true, paused: true }),
    { type: "connected" },
    1,
    { phase: "connected" },
    [],
  ],
  [
    "pausing while down only remembers it",
    at("reconnecting", { provider: true, attempt: 3 }),
    { type: "pause" },
    1,
    { paused: true },
    [],
  ],
  [
    "resuming registers again",
    at("connected", { provider: true, paused: true }),
    { type: "resume" },
    1,
    { phase: "registering", paused: false },
    [{ do: "register" }],
  ],
  [
    "resuming while down registers on the next connection",
    at("reconnecting", { provider: true, paused: true }),
    { type: "resume" },
    1,
    { paused: false },
    [],
  ],
  [
    "resuming what is not paused changes nothing",
    at("registered", { provider: true }),
    { type: "resume" },
    1,
    {},
    [],
  ],
  ["nothing happens once closed", at("closed"), { type: "connected" }, 1, { phase: "closed" }, []],
  ["a closed client does not dial again", at("closed"), { type: "timer" }, 1, { phase: "closed" }, []],
];

describe("connection machine", () => {
  it.each(rows)("%s", (_name, from, event, urls, to, effects) => {
    const r = step(from, event, cfg(urls));
    expect(r.state).toEqual({ ...from, ...to });
    expect(r.effects).toEqual(effects);
  });

  it("starts by dialling the first URL", () => {
    expect(initialState()).toEqual({
      phase: "connecting",
      url: 0,
      attempt: 0,
      provider: false,
      paused: false,
    });
  });

  it("backs off with jitter between half and all of a capped exponential delay", () => {
    expect(backoffMs(0, () => 0)).toBe(125);
    expect(backoffMs(0, () => 0.999)).toBe(250);
    expect(backoffMs(3, () => 0)).toBe(1000);
    // Capped: a long outage still retries every 2 to 4 s, so recovery takes seconds.
    for (const attempt of [5, 10, 50, 1000]) {
      expect(backoffMs(attempt, () => 0)).toBe(2000);
      expect(backoffMs(attempt, () => 0.999)).toBeLessThanOrEqual(4000);
    }
  });

  it("honours a node's time to come back with jitter on top, never past a bound a hostile node could abuse", () => {
    expect(retryAfterWaitMs(4_000, () => 0)).toBe(4_000);
    expect(retryAfterWaitMs(4_000, () => 0.999)).toBe(4_999);
    expect(retryAfterWaitMs(-5, () => 0.5)).toBe(0);
    expect(retryAfterWaitMs(Number.MAX_SAFE_INTEGER, () => 0.999)).toBeLessThan(MAX_RETRY_AFTER_MS * 1.25);
  });

  it("gives a dial longer after each failure in a row, up to three times the first", () => {
    expect([0, 1, 2, 4, 100].map((a) => dialTimeoutMs(a, 10_000))).toEqual([
      10_000, 15_000, 20_000, 30_000, 30_000,
    ]);
  });

  it("spreads a storm of reconnecting clients over the backoff window", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delays = Array.from({ length: 10_000 }, () => backoffMs(4, random));
    const buckets = new Array(4).fill(0);
    for (const d of delays) buckets[Math.min(3, Math.floor((d - 2000) / 500))]++;
    for (const b of buckets) expect(b).toBeGreaterThan(2000);
  });

  it("never moves or reconnects to a node it avoids (a liar) while another will do", () => {
    // Nodes 0 and 2 lied; 1 is honest.
    const avoid = (u: number) => u !== 1;
    const c = { urls: 3, random: half, avoid };
    expect(step(at("connected", { url: 1 }), { type: "lost" }, c).state.url).toBe(1);
    expect(step(at("connected", { url: 1 }), { type: "server-shutdown" }, c).state.url).toBe(1);
    expect(step(at("connected", { url: 0 }), { type: "distrusted" }, c).state).toMatchObject({
      phase: "moving",
      url: 1,
    });
    // On the honest node, a lie of another changes nothing; with every node avoided, round robin.
    expect(step(at("connected", { url: 1 }), { type: "distrusted" }, c).effects).toEqual([]);
    const none = { urls: 3, random: half, avoid: () => true };
    expect(step(at("connected", { url: 2 }), { type: "lost" }, none).state.url).toBe(0);
    expect(step(at("connected", { url: 2 }), { type: "distrusted" }, none).effects).toEqual([]);
  });
});
