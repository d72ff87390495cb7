import { ChannelClosedError, TimeoutError } from "../errors";

/**
 * Any ordered, reliable message channel: a WebRTC data channel, the signaling relay, an in-memory
 * pipe. `send` may return a promise to apply backpressure (data channel `bufferedAmount`).
 */
export interface FrameTransport {
  send(frame: Uint8Array): void | Promise<void>;
  onFrame(handler: (frame: Uint8Array) => void): void;
  onClose(handler: (reason?: Error) => void): void;
  close(reason?: Error): void;
}

/**
 * Subscribes to a transport once and queues what arrives, so the handshake can read frames in
 * straight-line code (`next`) and the session can then take over in push mode (`drainTo`).
 */
export class FrameInbox {
  private readonly queue: Uint8Array[] = [];
  private waiter: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  private handler: ((frame: Uint8Array) => void) | undefined;
  private closedWith: Error | undefined;
  private closeHandler: ((reason: Error) => void) | undefined;

  constructor(transport: FrameTransport) {
    transport.onFrame((frame) => {
      if (this.closedWith) return;
      if (this.handler) this.handler(frame);
      else if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(frame);
      } else this.queue.push(frame);
    });
    transport.onClose((reason) => {
      if (this.closedWith) return;
      this.closedWith = reason ?? new ChannelClosedError();
      this.waiter?.reject(this.closedWith);
      this.waiter = undefined;
      this.closeHandler?.(this.closedWith);
    });
  }

  next(timeoutMs: number, what: string): Promise<Uint8Array> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedWith) return Promise.reject(this.closedWith);
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

  /** Switches to push mode: queued frames first, then each new one as it arrives. */
  drainTo(handler: (frame: Uint8Array) => void, onClose: (reason: Error) => void): void {
    this.handler = handler;
    this.closeHandler = onClose;
    while (this.queue.length > 0 && !this.closedWith) handler(this.queue.shift()!);
    if (this.closedWith) onClose(this.closedWith);
  }
}

/**
 * Two connected in-memory transports. Delivery is asynchronous (as on a real channel) and copies
 * the bytes. `tap` sees every frame in flight and may rewrite or drop it: the man in the middle.
 */
export function memoryPipe(
  tap?: (frame: Uint8Array, from: "a" | "b") => Uint8Array | Uint8Array[] | null,
): [FrameTransport, FrameTransport] {
  const ends = [makeEnd(), makeEnd()] as const;
  let open = true;
  const closeBoth = (reason?: Error) => {
    if (!open) return;
    open = false;
    setTimeout(() => {
      for (const e of ends) for (const h of e.closeHandlers) h(reason);
    });
  };
  const wire = (from: 0 | 1) => {
    const to = ends[from === 0 ? 1 : 0];
    return {
      send(frame: Uint8Array) {
        if (!open) throw new ChannelClosedError();
        const copy = frame.slice();
        const out = tap ? tap(copy, from === 0 ? "a" : "b") : copy;
        const frames = out === null ? [] : Array.isArray(out) ? out : [out];
        setTimeout(() => {
          if (!open) return;
          // Nobody listening yet: keep them for the first listener, as a real channel does.
          if (to.frameHandlers.length === 0) to.unread.push(...frames);
          else for (const f of frames) for (const h of to.frameHandlers) h(f);
        });
      },
      onFrame(h: (frame: Uint8Array) => void) {
        const end = ends[from];
        end.frameHandlers.push(h);
        for (const f of end.unread.splice(0)) h(f);
      },
      onClose(h: (reason?: Error) => void) {
        ends[from].closeHandlers.push(h);
      },
      close: closeBoth,
    } satisfies FrameTransport;
  };
  return [wire(0), wire(1)];
}

function makeEnd() {
  return {
    frameHandlers: [] as ((frame: Uint8Array) => void)[],
    unread: [] as Uint8Array[],
    closeHandlers: [] as ((reason?: Error) => void)[],
  };
}
