/**
 * One session's life, on either side, as a pure state machine (like signaling/matchmaking.ts):
 * `step(state, event)` returns the next state and the effects to carry out. Sockets, links, the
 * secure session and the engine feed it events; its owner (session-life.ts) runs the timers and
 * the effects. Every waiting state has a deadline, and each deadline ends the session with a code
 * that says what was awaited (protocol/README.md, "Deadlines").
 *
 *   requested → connecting → handshaking → account → open → closed
 *   (the provider starts at connecting: an offer it took)
 *
 * While open, the requester waits for the next frame of each answer in flight (`frame`), and the
 * provider, while its credit window is spent, for the next receipt (`credit`); the provider sends
 * a keepalive every `keepalive` ms while answers are in flight, so a slow engine is not a stall.
 *
 * Frames are not events: the owner notes when the last one came (`SessionLife.frame`), and the
 * frame timer's deadline event says how long it has been quiet; the machine re-arms the timer for
 * what is left, or ends the session. So a token costs neither a step nor a timer.
 */
import type { ErrorCode } from "../protocol";

export type Side = "requester" | "provider";
export type Phase = "requested" | "connecting" | "handshaking" | "account" | "open" | "closed";
export type Timer = "phase" | "frame" | "credit" | "keepalive";

export interface Deadlines {
  /** Requester: the server's grant. */
  readonly requested: number;
  /** A channel (direct, else the relay). */
  readonly connecting: number;
  readonly handshaking: number;
  /** Requester: the provider's `account`; provider: the requester's base receipt. */
  readonly account: number;
  /** Requester: the next frame of an answer in flight (tokens, keepalive, credit-wait, done). */
  readonly frame: number;
  /** Provider: the next receipt once the credit window is spent. */
  readonly credit: number;
  /** Provider: how often it says "still working" on an answer in flight. */
  readonly keepalive: number;
  /**
   * Either side, a direct session only: the peer's answer to a probe after the server said the
   * session ended (connect-peer.ts `probeEnds`); no answer in time, and the server is believed.
   */
  readonly probe: number;
  /**
   * Requester: how long `progress` or `credit-wait` alone (no token, no vector) keeps an answer
   * alive. A provider's engine that hangs still says "working" every `keepalive`, and a lying one
   * can say it waits for credit when all it sent is signed for; past this, only a token resets `frame`.
   */
  readonly progress: number;
}

export const DEFAULT_DEADLINES: Deadlines = {
  requested: 15_000,
  connecting: 15_000,
  handshaking: 10_000,
  account: 10_000,
  frame: 20_000,
  credit: 20_000,
  keepalive: 5_000,
  probe: 1_000,
  progress: 300_000,
};

export interface Ending {
  readonly code: ErrorCode;
  readonly message: string;
  /** For a deadline: what was awaited and how long. */
  readonly waited?: { readonly what: string; readonly ms: number };
}

export interface LifeState {
  readonly side: Side;
  readonly phase: Phase;
  /** Answers in flight on this session. */
  readonly answers: number;
  /** Provider: streaming paused until a receipt arrives. */
  readonly creditWait: boolean;
  /** Why it closed; undefined for a clean close. */
  readonly ending?: Ending;
}

export type LifeEvent =
  | { readonly type: "granted" }
  | { readonly type: "connected" }
  | { readonly type: "secured" }
  | { readonly type: "account-open" }
  | { readonly type: "answer-start" }
  | { readonly type: "answer-end" }
  | { readonly type: "credit-wait" }
  | { readonly type: "credit" }
  /** A timer fired; for `frame`, how long since the last frame of an answer (none: forever). */
  | { readonly type: "deadline"; readonly timer: Timer; readonly quietMs?: number }
  /** The session ended from outside: the peer, the channel, the server, or a protocol error. */
  | { readonly type: "ended"; readonly ending?: Ending }
  /** This side closes it (idle, stop, a failure it detected). */
  | { readonly type: "close"; readonly ending?: Ending };

export type LifeEffect =
  | { readonly type: "arm"; readonly timer: Timer; readonly ms: number }
  | { readonly type: "disarm"; readonly timer: Timer }
  /** Provider: tell the requester each answer in flight is still being worked on. */
  | { readonly type: "keepalive" }
  /** Close the session (telling the peer `ending` when there is one) and tell the server. */
  | { readonly type: "close"; readonly ending?: Ending }
  /** Provider: stop every generation of this session, freeing the engine and its place. */
  | { readonly type: "cancel-answers" }
  /** The session is over: settle whatever waits on it with `ending`. */
  | { readonly type: "closed"; readonly ending?: Ending };

export function initialLife(side: Side, deadlines: Deadlines = DEFAULT_DEADLINES) {
  const phase: Phase = side === "requester" ? "requested" : "connecting";
  return {
    state: { side, phase, answers: 0, creditWait: false } as LifeState,
    effects: [{ type: "arm", timer: "phase", ms: deadlines[phase] }] as LifeEffect[],
  };
}

const NEXT: Partial<Record<LifeEvent["type"], { from: Phase; to: Phase }>> = {
  granted: { from: "requested", to: "connecting" },
  connected: { from: "connecting", to: "handshaking" },
  secured: { from: "handshaking", to: "account" },
  "account-open": { from: "account", to: "open" },
};

const WAITING_FOR: Record<Exclude<Phase, "open" | "closed">, string> = {
  requested: "the signaling server's grant",
  connecting: "a channel to the peer",
  handshaking: "the handshake",
  account: "the account (base receipt)",
};

export function step(
  state: LifeState,
  event: LifeEvent,
  d: Deadlines = DEFAULT_DEADLINES,
): { state: LifeState; effects: LifeEffect[] } {
  if (state.phase === "closed") return { state, effects: [] };
  const move = NEXT[event.type];
  if (move) {
    if (state.phase !== move.from) return unexpected(state, event);
    const phase = move.to;
    return {
      state: { ...state, phase },
      effects:
        phase === "open"
          ? [{ type: "disarm", timer: "phase" }]
          : [{ type: "arm", timer: "phase", ms: d[phase as keyof Deadlines] }],
    };
  }
  switch (event.type) {
    case "answer-start": {
      if (state.phase !== "open") return unexpected(state, event);
      const effects: LifeEffect[] = [];
      if (state.answers === 0) {
        if (state.side === "requester") effects.push({ type: "arm", timer: "frame", ms: d.frame });
        else effects.push({ type: "arm", timer: "keepalive", ms: d.keepalive });
      }
      return { state: { ...state, answers: state.answers + 1 }, effects };
    }
    case "answer-end": {
      const answers = Math.max(0, state.answers - 1);
      const effects: LifeEffect[] = [];
      if (answers === 0)
        effects.push({ type: "disarm", timer: state.side === "requester" ? "frame" : "keepalive" });
      return { state: { ...state, answers }, effects };
    }
    case "credit-wait":
      if (state.side !== "provider" || state.creditWait) return { state, effects: [] };
      return {
        state: { ...state, creditWait: true },
        effects: [{ type: "arm", timer: "credit", ms: d.credit }],
      };
    case "credit":
      if (!state.creditWait) return { state, effects: [] };
      return { state: { ...state, creditWait: false }, effects: [{ type: "disarm", timer: "credit" }] };
    case "deadline":
      return onDeadline(state, event.timer, d, event.quietMs);
    case "ended":
      return closed(state, event.ending, false);
    case "close":
      return closed(state, event.ending, true);
  }
  return { state, effects: [] };
}

function onDeadline(state: LifeState, timer: Timer, d: Deadlines, quietMs = Number.POSITIVE_INFINITY) {
  switch (timer) {
    case "phase":
      if (state.phase === "open" || state.phase === "closed") return { state, effects: [] };
      return closed(state, deadline("TIMEOUT", WAITING_FOR[state.phase], d[state.phase]), true);
    case "frame": {
      if (state.answers === 0) return { state, effects: [] };
      if (quietMs < d.frame)
        return { state, effects: [{ type: "arm", timer: "frame", ms: d.frame - quietMs }] as LifeEffect[] };
      return closed(state, deadline("STALLED", "the next frame of an answer", d.frame), true);
    }
    case "credit":
      if (!state.creditWait) return { state, effects: [] };
      return closed(
        state,
        deadline("CREDIT_TIMEOUT", "a receipt for the spent credit window", d.credit),
        true,
      );
    case "keepalive":
      if (state.answers === 0) return { state, effects: [] };
      return {
        state,
        effects: [
          { type: "keepalive" },
          { type: "arm", timer: "keepalive", ms: d.keepalive },
        ] as LifeEffect[],
      };
  }
}

function deadline(code: ErrorCode, what: string, ms: number): Ending {
  return { code, message: `${what} timed out after ${ms} ms`, waited: { what, ms } };
}

function closed(state: LifeState, ending: Ending | undefined, ours: boolean) {
  const effects: LifeEffect[] = (["phase", "frame", "credit", "keepalive"] as const).map((timer) => ({
    type: "disarm",
    timer,
  }));
  if (state.side === "provider") effects.push({ type: "cancel-answers" });
  if (ours) effects.push(ending ? { type: "close", ending } : { type: "close" });
  effects.push(ending ? { type: "closed", ending } : { type: "closed" });
  return {
    state: { ...state, phase: "closed" as const, answers: 0, creditWait: false, ...(ending && { ending }) },
    effects,
  };
}

/** An event that cannot happen in this phase: a bug or a peer out of step; end rather than guess. */
function unexpected(state: LifeState, event: LifeEvent) {
  return closed(state, { code: "UNEXPECTED", message: `${event.type} while ${state.phase}` }, true);
}
