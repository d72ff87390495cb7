import { FrameInbox } from "../protocol/session/transport";

/**
 * What every FrameTransport of ours shares: the inbox, made with the link (so a frame the peer
 * sends before anyone reads, its handshake among them, already has an owner), and a close
 * reported once.
 */
export abstract class FrameHub {
  readonly inbox = new FrameInbox();
  protected closed = false;
  /** Why it closed, for a send after the close (a moved session must say it moved). */
  protected closeReason: Error | undefined;

  protected deliver(frame: Uint8Array): void {
    this.inbox.put(frame);
  }

  protected finish(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.inbox.end(reason);
  }
}
