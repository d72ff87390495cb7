import { afterEach, describe, expect, it, vi } from "vitest";
import { SessionLife } from "../../peer/session-life";
import {
  DEFAULT_DEADLINES as D,
  initialLife,
  type LifeEffect,
  type LifeEvent,
  type LifeState,
  type Side,
  step,
} from "../../peer/session-machine";

/** The session machine as a table: state and event in, state and effects out. */
function stateAfter(side: Side, events: LifeEvent["type"][]): LifeState {
  let { state } = initialLife(side);
  for (const type of events) state = step(state, { type } as LifeEvent).state;
  return state;
}

const OPEN_R = ["granted", "connected", "secured", "account-open"] as const;
const OPEN_P = ["connected", "secured", "account-open"] as const;
const allOff: LifeEffect[] = (["phase", "frame", "credit", "keepalive"] as const).map((timer) => ({
  type: "disarm",
  timer,
}));

type Row = [
  name: string,
  side: Side,
  before: readonly LifeEvent["type"][],
  event: LifeEvent,
  phase: LifeState["phase"],
  effects: LifeEffect[],
];

const rows: Row[] = [
  [
    "requester is granted",
    "requester",
    [],
    { type: "granted" },
    "connecting",
    [{ type: "arm", timer: "phase", ms: D.connecting }],
  ],
  [
    "channel made",
    "requester",
    ["granted"],
    { type: "connected" },
    "handshaking",
    [{ type: "arm", timer: "phase", ms: D.handshaking }],
  ],
  [
    "handshake done",
    "provider",
    ["connected"],
    { type: "secured" },
    "account",
    [{ type: "arm", timer: "phase", ms: D.account }],
  ],
  [
    "account opens",
    "provider",
    ["connected", "secured"],
    { type: "account-open" },
    "open",
    [{ type: "disarm", timer: "phase" }],
  ],
  [
    "requester's first answer arms the frame deadline",
    "requester",
    OPEN_R,
    { type: "answer-start" },
    "open",
    [{ type: "arm", timer: "frame", ms: D.frame }],
  ],
  [
    "the frame deadline finds a frame 5 s ago: re-armed for the rest, not stalled",
    "requester",
    [...OPEN_R, "answer-start"],
    { type: "deadline", timer: "frame", quietMs: 5_000 },
    "open",
    [{ type: "arm", timer: "frame", ms: D.frame - 5_000 }],
  ],
  [
    "the last answer's end disarms it",
    "requester",
    [...OPEN_R, "answer-start"],
    { type: "answer-end" },
    "open",
    [{ type: "disarm", timer: "frame" }],
  ],
  [
    "one of two answers ends: the other keeps the armed deadline",
    "requester",
    [...OPEN_R, "answer-start", "answer-start"],
    { type: "answer-end" },
    "open",
    [],
  ],
  [
    "provider's answer arms the keepalive",
    "provider",
    OPEN_P,
    { type: "answer-start" },
    "open",
    [{ type: "arm", timer: "keepalive", ms: D.keepalive }],
  ],
  [
    "keepalive due: send one, re-arm",
    "provider",
    [...OPEN_P, "answer-start"],
    { type: "deadline", timer: "keepalive" },
    "open",
    [{ type: "keepalive" }, { type: "arm", timer: "keepalive", ms: D.keepalive }],
  ],
  [
    "credit window spent: wait with a deadline",
    "provider",
    [...OPEN_P, "answer-start"],
    { type: "credit-wait" },
    "open",
    [{ type: "arm", timer: "credit", ms: D.credit }],
  ],
  [
    "a receipt ends the wait",
    "provider",
    [...OPEN_P, "answer-start", "credit-wait"],
    { type: "credit" },
    "open",
    [{ type: "disarm", timer: "credit" }],
  ],
  [
    "an early event is a peer out of step: end",
    "provider",
    [],
    { type: "account-open" },
    "closed",
    [
      ...allOff,
      { type: "cancel-answers" },
      { type: "close", ending: { code: "UNEXPECTED", message: "account-open while connecting" } },
      { type: "closed", ending: { code: "UNEXPECTED", message: "account-open while connecting" } },
    ],
  ],
  [
    "the peer ends it: no close to send, answers cancelled",
    "provider",
    [...OPEN_P, "answer-start"],
    { type: "ended" },
    "closed",
    [...allOff, { type: "cancel-answers" }, { type: "closed" }],
  ],
  [
    "we close it cleanly",
    "requester",
    OPEN_R,
    { type: "close" },
    "closed",
    [...allOff, { type: "close" }, { type: "closed" }],
  ],
  [
    "anything after the end is ignored",
    "requester",
    [...OPEN_R, "ended"],
    { type: "answer-start" },
    "closed",
    [],
  ],
  [
    "a stale frame deadline after the answer ended is ignored",
    "requester",
    [...OPEN_R, "answer-start", "answer-end"],
    { type: "deadline", timer: "frame" },
    "open",
    [],
  ],
  [
    "a stale credit deadline after the receipt is ignored",
    "provider",
    [...OPEN_P, "answer-start", "credit-wait", "credit"],
    { type: "deadline", timer: "credit" },
    "open",
    [],
  ],
];

describe("session machine (table)", () => {
  it.each(rows)("%s", (_name, side, before, event, phase, effects) => {
    const next = step(stateAfter(side, [...before]), event);
    expect(next.state.phase).toBe(phase);
    expect(next.effects).toEqual(effects);
  });

  const timeouts: [string, Side, readonly LifeEvent["type"][], LifeEvent, string, string][] = [
    [
      "requested",
      "requester",
      [],
      { type: "deadline", timer: "phase" },
      "TIMEOUT",
      "the signaling server's grant",
    ],
    ["connecting", "provider", [], { type: "deadline", timer: "phase" }, "TIMEOUT", "a channel to the peer"],
    [
      "handshaking",
      "requester",
      ["granted", "connected"],
      { type: "deadline", timer: "phase" },
      "TIMEOUT",
      "the handshake",
    ],
    [
      "account",
      "provider",
      ["connected", "secured"],
      { type: "deadline", timer: "phase" },
      "TIMEOUT",
      "the account (base receipt)",
    ],
    [
      "open, answer in flight, no frame",
      "requester",
      [...OPEN_R, "answer-start"],
      { type: "deadline", timer: "frame" },
      "STALLED",
      "the next frame of an answer",
    ],
    [
      "open, credit window spent, no receipt",
      "provider",
      [...OPEN_P, "answer-start", "credit-wait"],
      { type: "deadline", timer: "credit" },
      "CREDIT_TIMEOUT",
      "a receipt for the spent credit window",
    ],
  ];
  it.each(timeouts)(
    "every waiting state ends at its deadline (%s)",
    (_name, side, before, event, code, what) => {
      const next = step(stateAfter(side, [...before]), event);
      expect(next.state.phase).toBe("closed");
      expect(next.state.ending?.code).toBe(code);
      expect(next.state.ending?.waited?.what).toBe(what);
      expect(next.effects).toContainEqual({ type: "close", ending: next.state.ending });
      if (side === "provider") expect(next.effects).toContainEqual({ type: "cancel-answers" });
    },
  );
});

describe("SessionLife runs the timers", () => {
  afterEach(() => vi.useRealTimers());

  it("drives each phase to its timeout on the clock, and settles `ended` with why", async () => {
    vi.useFakeTimers();
    for (const [side, events, ms] of [
      ["requester", [], D.requested],
      ["requester", ["granted"], D.connecting],
      ["requester", ["granted", "connected"], D.handshaking],
      ["requester", ["granted", "connected", "secured"], D.account],
      ["provider", ["connected", "secured"], D.account],
    ] as const) {
      const life = new SessionLife(side);
      const closes: unknown[] = [];
      life.bind({ close: (e) => closes.push(e) });
      for (const type of events) life.send({ type });
      vi.advanceTimersByTime(ms - 1);
      expect(life.isClosed).toBe(false);
      vi.advanceTimersByTime(1);
      expect(life.isClosed).toBe(true);
      expect(closes).toHaveLength(1);
      expect((await life.ended)?.code).toBe("TIMEOUT");
    }
  });

  it("a keepalive-less answer stalls; a provider waiting for credit gives up and frees its engine", async () => {
    vi.useFakeTimers();
    const requester = new SessionLife("requester", { frame: 1000 });
    requester.bind({ close: () => undefined });
    for (const type of [...OPEN_R, "answer-start"] as const) requester.send({ type });
    vi.advanceTimersByTime(900);
    requester.frame();
    vi.advanceTimersByTime(900);
    expect(requester.isClosed).toBe(false);
    vi.advanceTimersByTime(100);
    expect((await requester.ended)?.code).toBe("STALLED");

    const provider = new SessionLife("provider", { credit: 2000, keepalive: 500 });
    const done: string[] = [];
    provider.bind({
      close: (e) => done.push(`close ${e?.code}`),
      keepalive: () => done.push("keepalive"),
      cancelAnswers: () => done.push("cancel"),
    });
    for (const type of [...OPEN_P, "answer-start", "credit-wait"] as const) provider.send({ type });
    vi.advanceTimersByTime(2000);
    expect(done.slice(-2)).toEqual(["cancel", "close CREDIT_TIMEOUT"]);
    expect(done.filter((d) => d === "keepalive").length).toBeGreaterThanOrEqual(3);
    vi.advanceTimersByTime(5000);
    expect(done.filter((d) => d === "keepalive").length).toBeLessThanOrEqual(4);
  });

  it("race: a step that outlives the session is abandoned and what it makes late is disposed of", async () => {
    vi.useFakeTimers();
    const life = new SessionLife("requester", { connecting: 100 });
    life.bind({ close: () => undefined });
    life.send({ type: "granted" });
    let finish: (v: string) => void = () => undefined;
    const disposed: string[] = [];
    const raced = life.race(new Promise<string>((r) => (finish = r)), (late) => disposed.push(late));
    vi.advanceTimersByTime(100);
    await expect(raced).rejects.toMatchObject({ code: "TIMEOUT" });
    finish("channel");
    await Promise.resolve();
    expect(disposed).toEqual(["channel"]);
  });
});
