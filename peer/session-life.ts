import { ChannelClosedError, type SilkError, TimeoutError } from "../protocol";
import {
  DEFAULT_DEADLINES,
  type Deadlines,
  type Ending,
  initialLife,
  type LifeEffect,
  type LifeEvent,
  type LifeState,
  type Side,
  step,
  type Timer,
} from "./session-machine";

export interface LifeActions {
  /** Close the session, telling the peer `ending` when there is one, and end it at the server. */
  close(ending: Ending | undefined): void;
  /** Provider: send a keepalive for each answer in flight. */
  keepalive?(): void;
  /** Provider: abort every generation of the session. */
  cancelAnswers?(): void;
  /** The session is over (once). */
  closed?(ending: Ending | undefined): void;
}

/**
 * The one owner of a session's life on one side: it keeps the machine's state, runs its timers
 * and carries out its effects. Everything else reports events (`send`) and asks `phase`.
 */
export class SessionLife {
  private current: LifeState;
  private readonly timers = new Map<Timer, ReturnType<typeof setTimeout>>();
  private actions: LifeActions | undefined;
  private pending: LifeEffect[] = [];
  private lastFrame = Number.NEGATIVE_INFINITY;
  private resolveEnded: ((ending: Ending | undefined) => void) | undefined;
  /** Settles when the session is over, with why (undefined for a clean close). */
  readonly ended: Promise<Ending | undefined> = new Promise((resolve) => {
    this.resolveEnded = resolve;
  });

  readonly deadlines: Deadlines;

  constructor(side: Side, deadlines: Partial<Deadlines> = {}) {
    this.deadlines = { ...DEFAULT_DEADLINES, ...deadlines };
    const start = initialLife(side, this.deadlines);
    this.current = start.state;
    this.pending = start.effects;
    this.runPending();
  }

  /** Who carries out closes, keepalives and cancels (later calls add or replace actions). */
  bind(actions: Partial<LifeActions>): void {
    this.actions = { ...this.actions, ...actions } as LifeActions;
    this.runPending();
  }

  /**
   * `work` or the session's end, whichever comes first: a step that would outlive its deadline
   * is abandoned (and what it makes late is handed to `dispose`), never awaited forever.
   */
  race<T>(work: Promise<T>, dispose?: (late: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let over = false;
      void this.ended.then((ending) => {
        if (over) return;
        over = true;
        reject(endingError(ending));
      });
      work.then(
        (value) => {
          if (over) return dispose?.(value);
          over = true;
          resolve(value);
        },
        (err: unknown) => {
          if (over) return;
          over = true;
          reject(err);
        },
      );
    });
  }

  get state(): LifeState {
    return this.current;
  }

  get isClosed(): boolean {
    return this.current.phase === "closed";
  }

  /**
   * Requester: a frame of an answer in flight arrived. Only its time is kept (no step, no timer):
   * the frame timer, when it fires, tells the machine how long it has been quiet.
   */
  frame(): void {
    this.lastFrame = Date.now();
  }

  send(event: LifeEvent): void {
    const next = step(this.current, event, this.deadlines);
    this.current = next.state;
    if (next.effects.length === 0) return;
    this.pending.push(...next.effects);
    this.runPending();
  }

  private runPending(): void {
    while (this.pending.length > 0) {
      const effect = this.pending[0]!;
      if (!this.actions && effect.type !== "arm" && effect.type !== "disarm" && effect.type !== "closed")
        return;
      this.pending.shift();
      this.run(effect);
    }
  }

  private run(effect: LifeEffect): void {
    switch (effect.type) {
      case "arm": {
        clearTimeout(this.timers.get(effect.timer));
        const timer = effect.timer;
        const t = setTimeout(
          () =>
            this.send(
              timer === "frame"
                ? { type: "deadline", timer, quietMs: Date.now() - this.lastFrame }
                : { type: "deadline", timer },
            ),
          effect.ms,
        );
        (t as { unref?: () => void }).unref?.();
        this.timers.set(timer, t);
        return;
      }
      case "disarm":
        clearTimeout(this.timers.get(effect.timer));
        this.timers.delete(effect.timer);
        return;
      case "keepalive":
        this.actions?.keepalive?.();
        return;
      case "cancel-answers":
        this.actions?.cancelAnswers?.();
        return;
      case "close":
        this.actions?.close(effect.ending);
        return;
      case "closed":
        this.resolveEnded?.(effect.ending);
        this.actions?.closed?.(effect.ending);
        return;
    }
  }
}

/** The error an ending reads as where an exception is wanted: a deadline is a TimeoutError. */
export function endingError(ending: Ending | undefined): SilkError {
  if (!ending) return new ChannelClosedError("session closed");
  if (ending.waited) return new TimeoutError(ending.waited.what, ending.waited.ms);
  return new SessionEndedError(ending);
}

/** The session was ended with a code that is not a protocol error's own (UNEXPECTED, …). */
export class SessionEndedError extends ChannelClosedError {
  readonly ending: Ending;
  constructor(ending: Ending) {
    super(ending.message);
    this.ending = ending;
  }
}
