import { ChannelClosedError, type FrameTransport } from "../protocol";
import { FrameHub } from "./frame-hub";
import { type SignalingClient, SignalingError } from "./signaling-client";

/** How long one frame may wait for the server's relay budget before the send fails. */
const RATE_LIMIT_PATIENCE_MS = 10_000;

/**
 * The same encrypted frames, relayed through the signaling server as opaque ciphertext when no
 * direct data channel can be made. Frames that arrive before the switch are kept, so nothing is
 * lost when one side changes over a moment before the other (the link's inbox exists from the start).
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
    // A frame the server refuses for its relay budget is sent again, in place, once the budget
    // refills: frames go one at a time (SecureSession awaits each), so order holds, and dropping
    // it would leave a hole the other side can only read as a stall.
    const giveUp = Date.now() + RATE_LIMIT_PATIENCE_MS;
    for (let wait = 5; ; wait = Math.min(wait * 2, 250)) {
      try {
        return await this.signaling.sendFrame(this.sessionId, frame);
      } catch (err) {
        const limited = err instanceof SignalingError && err.code === "RATE_LIMITED";
        if (!limited || this.closed || Date.now() + wait > giveUp) throw this.refused(err);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /**
   * The server would not carry the frame (the session ended or moved under it, the socket is gone,
   * no budget left): the link is closed, and the send fails as a closed channel, never as something
   * the peer did, so a handshake cut short here is not read as an attack.
   */
  private refused(err: unknown): ChannelClosedError {
    if (err instanceof ChannelClosedError) return err;
    // The server moved or ended the session while the frame was on its way: its refusal is that
    // ending's echo, and the ending (a move the opener follows) is what the send reports.
    if (this.closeReason instanceof ChannelClosedError) return this.closeReason;
    const why = err instanceof SignalingError ? `${err.code}: ${err.message}` : String(err);
    const closed = new ChannelClosedError(`the relay did not carry a frame (${why})`, { cause: err });
    this.close(closed);
    return closed;
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.signaling.endSession(this.sessionId, reason ? "closed with error" : "closed");
    this.finish(reason);
  }
}
