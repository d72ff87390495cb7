import { ChannelClosedError, type FrameTransport } from "../protocol";
import { FrameHub } from "./frame-hub";
import type { SignalingClient } from "./signaling-client";

/**
 * The same encrypted frames, relayed through the signaling server as opaque ciphertext when no
 * direct data channel can be made. Frames that arrive before the switch are kept, so nothing is
 * lost when one side changes over a moment before the other.
 */
export class RelayLink extends FrameHub implements FrameTransport {
  constructor(
    private readonly signaling: SignalingClient,
    private readonly sessionId: string,
  ) {
    super();
    signaling.session(sessionId, { frame: (frame) => this.deliver(frame) });
  }

  /** The server ended (or moved) the session: close without telling it. */
  end(reason: Error): void {
    this.finish(reason);
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.closed)
      throw this.closeReason instanceof ChannelClosedError ? this.closeReason : new ChannelClosedError();
    await this.signaling.sendFrame(this.sessionId, frame);
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.signaling.endSession(this.sessionId, reason ? "closed with error" : "closed");
    this.finish(reason);
  }
}
