import { ChannelClosedError, type FrameTransport } from "../protocol";
import type { SignalingClient } from "./signaling-client";

/**
 * The same encrypted frames, relayed through the signaling server as opaque ciphertext when no
 * direct data channel can be made. Frames that arrive before the switch are kept, so nothing is
 * lost when one side changes over a moment before the other.
 */
export class RelayLink implements FrameTransport {
  private frameHandlers: ((frame: Uint8Array) => void)[] = [];
  private closeHandlers: ((reason?: Error) => void)[] = [];
  private early: Uint8Array[] = [];
  private closed = false;

  constructor(
    private readonly signaling: SignalingClient,
    private readonly sessionId: string,
  ) {
    signaling.session(sessionId, {
      frame: (frame) => {
        if (this.frameHandlers.length === 0) this.early.push(frame);
        else for (const h of this.frameHandlers) h(frame);
      },
      ended: (reason) => this.finish(new ChannelClosedError(`session ended: ${reason}`)),
    });
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.closed) throw new ChannelClosedError();
    await this.signaling.sendFrame(this.sessionId, frame);
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
    const early = this.early;
    this.early = [];
    for (const f of early) handler(f);
  }

  onClose(handler: (reason?: Error) => void): void {
    this.closeHandlers.push(handler);
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.signaling.endSession(this.sessionId, reason ? "closed with error" : "closed");
    this.finish(reason);
  }

  private finish(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    const handlers = this.closeHandlers;
    this.closeHandlers = [];
    this.frameHandlers = [];
    for (const h of handlers) h(reason);
  }
}
