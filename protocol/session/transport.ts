import { ChannelClosedError, TimeoutError } from "../errors";

/**
 * Any ordered, reliable message channel: a WebRTC data channel, the signaling relay, an in-memory
 * pipe. `send` may return a promise to apply backpressure (data channel `bufferedAmount`).
 * What arrives goes into the transport's `inbox`, made with the transport, so no frame ever
 * arrives before something owns it: whoever reads the channel (the handshake, then the session)
 * reads it there, in order, whenever it is ready to.
 */
export interface FrameTransport {
  send(frame: Uint8Array): void | Promise<void>;
  readonly inbox: FrameInbox;
  close(reason?: Error): void;
}

type Reader = (frame: Uint8Array) => void;

/**
 * A channel's receiving end: the transport `put`s each frame and `end`s it once. A reader takes
 * frames in straight-line code (`next`, the handshake) or as they come (`read`, the session);
 * while nobody reads (between the two, or a reader that stepped away) frames wait here in order.
 * The end is seen by every `onEnd` watcher once; frames nobody read by then are dropped with it.
 */
export class FrameInbox {
  private queue: Uint8Array[] = [];
  private reader: Reader | undefined;
  private waiter: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private endedWith: Error | undefined;
  private watchers: ((reason: Error) => void)[] = [];

  /** Why the channel ended (a clean close reads as ChannelClosedError); undefined while open. */
  get ended(): Error | undefined {
    return this.endedWith;
  }

  /** The transport's side: a frame arrived. */
  put(frame: Uint8Array): void {
    if (this.endedWith) return;
    if (this.reader) this.reader(frame);
    else if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(frame);
    } else this.queue.push(frame);
  }

  /** The transport's side: the channel closed (only the first call counts). */
  end(reason?: Error): void {
    if (this.endedWith) return;
    const why = reason ?? new ChannelClosedError();
    this.endedWith = why;
    this.queue = [];
    this.reader = undefined;
    this.waiter?.reject(why);
    this.waiter = undefined;
    for (const w of this.watchers.splice(0)) w(why);
  }

  /** Told once when the channel ends; at once if it already has. */
  onEnd(watcher: (reason: Error) => void): void {
    if (this.endedWith) watcher(this.endedWith);
    else this.watchers.push(watcher);
  }

  next(timeoutMs: number, what: string): Promise<Uint8Array> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.endedWith) return Promise.reject(this.endedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new TimeoutError(what, timeoutMs));
      }, timeoutMs);
      this.waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /**
   * Frames as they come: those waiting first, at once, then each on arrival, until `stop` (after
   * which they wait here again for the next reader). One reader at a time.
   */
  read(reader: Reader): void {
    if (this.endedWith) return;
    this.reader = reader;
    while (this.reader === reader && this.queue.length > 0) reader(this.queue.shift()!);
  }

  stop(): void {
    this.reader = undefined;
  }
}

/**
 * Two connected in-memory transports. Delivery is asynchronous (as on a real channel) and copies
 * the bytes. `tap` sees every frame in flight and may rewrite or drop it: the man in the middle.
 */
export function memoryPipe(
  tap?: (frame: Uint8Array, from: "a" | "b") => Uint8Array | Uint8Array[] | null,
): [FrameTransport, FrameTransport] {
  const inboxes = [new FrameInbox(), new FrameInbox()] as const;
  let open = true;
  const closeBoth = (reason?: Error) => {
    if (!open) return;
    open = false;
    setTimeout(() => {
      for (const inbox of inboxes) inbox.end(reason);
    });
  };
  const wire = (from: 0 | 1): FrameTransport => {
    const to = inboxes[from === 0 ? 1 : 0];
    return {
      inbox: inboxes[from],
      send(frame: Uint8Array) {
        if (!open) throw new ChannelClosedError();
        const copy = frame.slice();
        const out = tap ? tap(copy, from === 0 ? "a" : "b") : copy;
        const frames = out === null ? [] : Array.isArray(out) ? out : [out];
        setTimeout(() => {
          if (!open) return;
          for (const f of frames) to.put(f);
        });
      },
      close: closeBoth,
    };
  };
  return [wire(0), wire(1)];
}
