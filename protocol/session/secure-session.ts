import * as v from "valibot";
import { decodeJson, encodeJson } from "../codec";
import { ChannelClosedError, errorToWire, MalformedMessageError, SilkError } from "../errors";
import { MAX_SESSION_MESSAGE_BYTES } from "../limits";
import { Id } from "../schemas/common";
import { parseSessionMessage, type SessionMessage, type SessionMessageInput } from "../schemas/session";
import { Reassembler, splitMessage } from "./chunks";
import type { ReceiveCipher, SendCipher } from "./cipher";
import type { FrameInbox, FrameTransport } from "./transport";

export interface SessionInfo {
  readonly sessionId: string;
  /** The other side's proven key: the provider's identity key, or the requester's session key. */
  readonly peerKey: Uint8Array;
}

type MessageHandler = (message: SessionMessage) => void;
type CloseHandler = (reason: Error | undefined) => void;

/**
 * An established session. Any frame that fails authentication, arrives out of order or breaks
 * the chunking ends the session with that error: the channel can no longer be trusted. A frame
 * that authenticates but carries a message the schema refuses is answered with a typed error
 * and the session goes on: the peer is who it claims to be, just wrong.
 */
export class SecureSession {
  private readonly reassembler = new Reassembler();
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly closeHandlers: CloseHandler[] = [];
  /** Authenticated messages that arrived before anyone listened; see `onMessage`. */
  private unread: SessionMessage[] = [];
  private flushing = false;
  private sending: Promise<void> = Promise.resolve();
  private closedWith: Error | undefined;
  private closed = false;

  constructor(
    private readonly transport: FrameTransport,
    inbox: FrameInbox,
    private readonly sendCipher: SendCipher,
    private readonly receiveCipher: ReceiveCipher,
    readonly info: SessionInfo,
  ) {
    // Frames that came with or right after the last handshake frame (a relay may deliver AUTH and
    // the base receipt in one read) are opened now and kept in `unread` until someone listens.
    inbox.drainTo(
      (frame) => this.receive(frame),
      (reason) => this.finish(reason instanceof ChannelClosedError ? undefined : reason),
    );
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Why the session ended: undefined for a clean close. */
  get closeReason(): Error | undefined {
    return this.closedWith;
  }

  /**
   * Returns a function that removes the handler. Messages nobody has listened to yet go to the
   * first handler's turn, in a microtask, so every handler attached in the same turn sees them.
   */
  onMessage(handler: MessageHandler): () => void {
    this.messageHandlers.push(handler);
    if (this.unread.length > 0 && !this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flushUnread());
    }
    return () => {
      const i = this.messageHandlers.indexOf(handler);
      if (i >= 0) this.messageHandlers.splice(i, 1);
    };
  }

  onClose(handler: CloseHandler): void {
    if (this.closed) queueMicrotask(() => handler(this.closedWith));
    else this.closeHandlers.push(handler);
  }

  /**
   * Frames are sealed now, in call order, and handed to the transport one after another; the
   * promise settles when the transport has taken the last one (backpressure).
   */
  send(message: SessionMessageInput): Promise<void> {
    if (this.closed) return Promise.reject(this.closedWith ?? new ChannelClosedError("session closed"));
    const frames = splitMessage(encodeJson(message, MAX_SESSION_MESSAGE_BYTES)).map((p) =>
      this.sendCipher.seal(p),
    );
    const sent = this.sending.then(async () => {
      for (const f of frames) {
        if (this.closed) throw this.closedWith ?? new ChannelClosedError("session closed");
        await this.transport.send(f);
      }
    });
    this.sending = sent.catch(() => undefined);
    return sent;
  }

  close(reason?: Error): void {
    if (this.closed) return;
    this.finish(reason);
    this.transport.close(reason);
  }

  private finish(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = reason;
    // What arrived before the close is reported before it, if anyone is about to read it.
    if (!this.flushing) {
      this.unread = [];
      for (const h of this.closeHandlers.splice(0)) h(reason);
    }
  }

  private flushUnread(): void {
    try {
      for (let m = this.unread.shift(); m; m = this.unread.shift())
        for (const h of [...this.messageHandlers]) h(m);
    } finally {
      this.flushing = false;
      if (this.closed) for (const h of this.closeHandlers.splice(0)) h(this.closedWith);
    }
  }

  private receive(frame: Uint8Array): void {
    if (this.closed) return;
    let whole: Uint8Array | undefined;
    try {
      whole = this.reassembler.push(this.receiveCipher.open(frame));
    } catch (err) {
      this.close(err instanceof SilkError ? err : new MalformedMessageError("bad frame"));
      return;
    }
    if (!whole) return;
    let message: SessionMessage;
    let decoded: unknown;
    try {
      decoded = decodeJson(whole, MAX_SESSION_MESSAGE_BYTES);
      message = parseSessionMessage(decoded);
    } catch (err) {
      // A refused request names its id, so the sender can fail that request and nothing else.
      const id = requestIdOf(decoded);
      this.send({ v: 1, t: "error", ...(id && { id }), error: errorToWire(err) }).catch(() => undefined);
      return;
    }
    if (this.messageHandlers.length === 0 || this.flushing) this.unread.push(message);
    else for (const h of [...this.messageHandlers]) h(message);
  }
}

function requestIdOf(decoded: unknown): string | undefined {
  if (typeof decoded !== "object" || decoded === null || !("id" in decoded)) return undefined;
  const id = v.safeParse(Id, decoded.id);
  return id.success ? id.output : undefined;
}
