import { ChannelClosedError, type FrameTransport, TimeoutError } from "../protocol";
import { FrameHub } from "./frame-hub";
import { RelayRefusedError, type SignalingClient, SignalingError } from "./signaling-client";
import { SessionEndedNoticeError } from "./signaling-errors";

/** How long one frame may wait for the server's relay budget before the send fails. */
const RATE_LIMIT_PATIENCE_MS = 10_000;

/**
 * The same encrypted frames, relayed through the signaling server as opaque ciphertext when no
 * direct data channel can be made. Frames that arrive before the switch are kept, so nothing is
 * lost when one side changes over a moment before the other (the link's inbox exists from the start).
 */
export class RelayLink extends FrameHub implements FrameTransport {
  /** Sends awaiting the server's ack, each failed at once when the link ends. */
  private readonly inFlight = new Set<(reason: Error) => void>();

  constructor(
    private readonly signaling: SignalingClient,
    private readonly sessionId: string,
  ) {
    super();
    signaling.session(sessionId, { frame: (frame) => this.deliver(frame) });
  }

  private hear: (() => void) | undefined;
  /**
   * Settles with the first frame from the other side. The relay carries frames from the grant on,
   * before the provider has taken the session: only its first frame says it is there.
   */
  readonly heard = new Promise<void>((resolve) => {
    this.hear = resolve;
  });

  protected override deliver(frame: Uint8Array): void {
    this.hear?.();
    this.hear = undefined;
    super.deliver(frame);
  }

  /**
   * The server's refusal of a frame that is still waiting for the relay budget (cleared once the
   * frame is carried or given up on).
   */
  private heldBack: unknown;

  /** The server ended (or moved) the session: close without telling it. */
  end(reason: Error): void {
    this.finish(this.refusedFirst(reason));
  }

  /**
   * An end that came while a frame waited out the server's refusal is that refusal's doing: the
   * peer gave up waiting for the frame (its handshake deadline, 10 s, races the link's patience,
   * 10 s from a later start), or our own deadline ran out. It read as the server's word that the
   * session ended (or a timeout), not as a relay refusal: the request did not count it, and asked
   * the refusing server for a third session (seen under load in relay-refused's cases).
   * A move is followed and signaling gone is its own cause: those stay as they are.
   */
  private refusedFirst<E extends Error | undefined>(reason: E): E | RelayRefusedError {
    if (this.heldBack === undefined) return reason;
    if (!(reason instanceof SessionEndedNoticeError || reason instanceof TimeoutError)) return reason;
    return new RelayRefusedError(this.signaling.url, this.heldBack);
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.closed) throw this.ending();
    // A frame the server refuses for its relay budget is sent again, in place, once the budget
    // refills: frames go one at a time (SecureSession awaits each), so order holds, and dropping
    // it would leave a hole the other side can only read as a stall.
    const giveUp = Date.now() + RATE_LIMIT_PATIENCE_MS;
    try {
      for (let wait = 5; ; wait = Math.min(wait * 2, 250)) {
        try {
          return await this.carried(frame);
        } catch (err) {
          const limited = err instanceof SignalingError && err.code === "RATE_LIMITED";
          if (!limited || this.closed || Date.now() + wait > giveUp) throw this.refused(err);
          this.heldBack = err;
          await new Promise((resolve) => setTimeout(resolve, wait));
          if (this.closed) throw this.ending();
        }
      }
    } finally {
      this.heldBack = undefined;
    }
  }

  /**
   * One frame to the server, until its ack or the link's end, whichever comes first: the end (the
   * server moved or ended the session, the opener gave up) cuts a send still awaiting the ack. A
   * path that never acked held the handshake's hello through every move of the session, until
   * the handshake's own deadline.
   */
  private carried(frame: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.inFlight.add(reject);
      this.signaling
        .sendFrame(this.sessionId, frame)
        .then(resolve, reject)
        .finally(() => this.inFlight.delete(reject));
    });
  }

  protected override finish(reason: Error | undefined): void {
    if (this.closed) return;
    super.finish(reason);
    const ending = this.ending();
    for (const fail of [...this.inFlight]) fail(ending);
    this.inFlight.clear();
  }

  /** Why a send fails once the link has ended: always a closed channel (a move says it moved). */
  private ending(): ChannelClosedError {
    const reason = this.closeReason;
    if (reason instanceof ChannelClosedError) return reason;
    return new ChannelClosedError(reason ? `channel closed: ${reason.message}` : undefined, {
      cause: reason,
    });
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
    // Typed, so the session's end carries it (a bare ChannelClosedError reads as an ordinary
    // close, and the provider was blamed for it as for leaving).
    const closed = new RelayRefusedError(this.signaling.url, err);
    this.close(closed);
    return closed;
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.signaling.endSession(this.sessionId, reason ? "closed with error" : "closed");
    this.finish(this.refusedFirst(reason));
  }
}
