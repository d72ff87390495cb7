/**
 * The bookkeeping every FrameTransport of ours shares: handlers for frames and for the close,
 * frames that arrive before anyone listens (the peer may start its handshake first) kept and
 * handed to the first listener, and a close reported once.
 */
export abstract class FrameHub {
  private frameHandlers: ((frame: Uint8Array) => void)[] = [];
  private closeHandlers: ((reason?: Error) => void)[] = [];
  private early: Uint8Array[] = [];
  protected closed = false;
  /** Why it closed, for a send after the close (a moved session must say it moved). */
  protected closeReason: Error | undefined;

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
    const early = this.early;
    this.early = [];
    for (const f of early) handler(f);
  }

  onClose(handler: (reason?: Error) => void): void {
    this.closeHandlers.push(handler);
  }

  protected deliver(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.frameHandlers.length === 0) this.early.push(frame);
    else for (const h of this.frameHandlers) h(frame);
  }

  protected finish(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    this.frameHandlers = [];
    this.early = [];
    for (const h of handlers) h(reason);
  }
}
