/**
 * The provider's capacity across all its sessions: `capacity` requests run, up to `maxWaiting`
 * more wait in order, and beyond that a request is refused at once (a full queue is an answer,
 * not a hang).
 */
export class Slots {
  private running = 0;
  private readonly waiting: { grant: () => void; cancel: (e: Error) => void }[] = [];

  constructor(
    readonly capacity: number,
    readonly maxWaiting: number,
  ) {}

  get load(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Whether a request now would run or wait rather than be refused (an idle provider with no queue has room). */
  get hasRoom(): boolean {
    return this.running < this.capacity || this.waiting.length < this.maxWaiting;
  }

  /** Resolves with a release function; rejects when the queue is full or the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    const release = once(() => {
      this.running--;
      const next = this.waiting.shift();
      if (next) next.grant();
    });
    if (this.running < this.capacity) {
      this.running++;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          this.running++;
          resolve(release);
        },
        cancel: reject,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error("aborted while queued"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }
}

export class QueueFullError extends Error {
  readonly code = "QUEUE_FULL" as const;
  constructor() {
    super("the provider's queue is full; try another provider");
    this.name = "QueueFullError";
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
