import * as v from "valibot";
import { decodeJson, encodeJson } from "../codec";
import {
  ChannelClosedError,
  errorToWire,
  MalformedMessageError,
  PeerRefusedFrameError,
  SilkError,
} from "../errors";
import { MAX_SESSION_MESSAGE_BYTES } from "../limits";
import { Id } from "../schemas/common";
import {
  parseSessionMessage,
  type SessionMessage,
  type SessionMessageInput,
  SessionProbe,
} from "../schemas/session";
import { Reassembler, splitMessage } from "./chunks";
import type { ReceiveCipher, SendCipher } from "./cipher";
import type { FrameTransport } from "./transport";

export interface SessionInfo {
  readonly sessionId: string;
  /** The other side's proven key: the provider's identity key, or the requester's session key. */
  readonly peerKey: Uint8Array;
}

type MessageHandler = (message: SessionMessage) => void;
/** A message the schema refused: what it named (its request `id`, its type `t`) and why. */
export interface RefusedMessage {
  readonly id: string | undefined;
  readonly t: string | undefined;
  readonly error: SilkError;
}
type RefusedHandler = (refused: RefusedMessage) => void;

/** How long a refused frame's notice may take to leave before the session closes anyway. */
const REFUSAL_NOTICE_MS = 1_000;
type CloseHandler = (reason: Error | undefined) => void;

/**
 * An established session. Any frame that fails authentication, arrives out of order or breaks
 * the chunking ends the session with that error: the channel can no longer be trusted. The other
 * side is told first, over its own direction, which is intact (an id-less `error`); when it hears
 * of a frame refused for DECRYPT or REPLAY it closes with `PeerRefusedFrameError`, so a frame
 * altered on its way to one party never reads to the other as that party vanishing. A frame
 * that authenticates but carries a message the schema refuses is answered with a typed error
 * and the session goes on: the peer is who it claims to be, just wrong.
 *
 * It reads the transport's inbox only while someone listens (`onMessage`): frames that came with
 * the last handshake frame (a relay may deliver AUTH and the base receipt in one read), or while
 * its owner was between listeners, wait there, unopened, and reach the next listener in order.
 */
export class SecureSession {
  private readonly reassembler = new Reassembler();
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly closeHandlers: CloseHandler[] = [];
  private readonly refusedHandlers: RefusedHandler[] = [];
  private sending: Promise<void> = Promise.resolve();
  private closedWith: Error | undefined;
  private closed = false;
  private refusing = false;
  /** Probes awaiting the peer's answer, by ping id. */
  private readonly probes = new Map<string, (answered: boolean) => void>();
  private probesSent = 0;
  private readonly reader = (frame: Uint8Array) => this.receive(frame);

  constructor(
    private readonly transport: FrameTransport,
    private readonly sendCipher: SendCipher,
    private readonly receiveCipher: ReceiveCipher,
    readonly info: SessionInfo,
  ) {
    transport.inbox.onEnd((reason) => this.finish(whyEnded(reason)));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Why the session ended: undefined for a clean close. */
  get closeReason(): Error | undefined {
    return this.closedWith;
  }

  /**
   * Returns a function that removes the handler. The first listener gets what is waiting at once,
   * in this call; one added beside it sees what arrives from then on.
   */
  onMessage(handler: MessageHandler): () => void {
    this.messageHandlers.push(handler);
    if (this.messageHandlers.length === 1) this.transport.inbox.read(this.reader);
    return () => {
      const i = this.messageHandlers.indexOf(handler);
      if (i < 0) return;
      this.messageHandlers.splice(i, 1);
      if (this.messageHandlers.length === 0) this.transport.inbox.stop();
    };
  }

  /**
   * Told of each message that authenticated but that the schema refused, after the peer was told:
   * an owner waiting on what it named (a request's answer) ends that wait now instead of at its
   * deadline. Returns a function that removes the handler.
   */
  onRefused(handler: RefusedHandler): () => void {
    this.refusedHandlers.push(handler);
    return () => {
      const i = this.refusedHandlers.indexOf(handler);
      if (i >= 0) this.refusedHandlers.splice(i, 1);
    };
  }

  /**
   * Told once when the session ends (at once, in a microtask, if it already has). Returns a
   * function that removes the handler, so a wait that ended otherwise leaves nothing behind.
   */
  onClose(handler: CloseHandler): () => void {
    if (this.closed) {
      let removed = false;
      queueMicrotask(() => {
        if (!removed) handler(this.closedWith);
      });
      return () => {
        removed = true;
      };
    }
    this.closeHandlers.push(handler);
    return () => {
      const i = this.closeHandlers.indexOf(handler);
      if (i >= 0) this.closeHandlers.splice(i, 1);
    };
  }

  /** How many handlers are attached now, by kind: what a leak check counts. */
  get listeners(): { message: number; refused: number; close: number } {
    return {
      message: this.messageHandlers.length,
      refused: this.refusedHandlers.length,
      close: this.closeHandlers.length,
    };
  }

  /**
   * Frames are sealed now, in call order, and handed to the transport one after another; the
   * promise settles when the transport has taken the last one (backpressure).
   */
  send(message: SessionMessageInput): Promise<void> {
    return this.write(message);
  }

  /**
   * Asks the peer to answer over the session now (protocol/README.md, "Probes"): true once it has
   * (a `pong`, or an older peer's UNKNOWN_TYPE error naming the ping), false when `timeoutMs` passes
   * first or the session closes. Only the peer can answer: the server sees nothing it could forge.
   */
  probe(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const id = `probe-${++this.probesSent}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (answered: boolean) => {
        clearTimeout(timer);
        this.probes.delete(id);
        resolve(answered);
      };
      this.probes.set(id, settle);
      this.write({ v: 1, t: "ping", id }).catch(() => settle(false));
    });
  }

  private write(message: SessionMessageInput | SessionProbe): Promise<void> {
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
    this.transport.inbox.stop();
    for (const settle of [...this.probes.values()]) settle(false);
    for (const h of this.closeHandlers.splice(0)) h(reason);
  }

  /** Tells the other side why a frame was refused (bounded by REFUSAL_NOTICE_MS), then closes. */
  private refuse(why: SilkError): void {
    this.refusing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const told = this.send({ v: 1, t: "error", error: errorToWire(why) }).catch(() => undefined);
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REFUSAL_NOTICE_MS);
    });
    void Promise.race([told, late]).then(() => {
      clearTimeout(timer);
      this.close(why);
    });
  }

  /** A `ping` is answered and a `pong` read here; anything else is for the session's owner. */
  private probed(decoded: unknown): boolean {
    const t = (decoded as { t?: unknown } | null)?.t;
    if (t !== "ping" && t !== "pong") return false;
    const r = v.safeParse(SessionProbe, decoded);
    if (!r.success) return false;
    if (r.output.t === "pong") this.probes.get(r.output.id)?.(true);
    else this.write({ v: 1, t: "pong", id: r.output.id }).catch(() => undefined);
    return true;
  }

  private receive(frame: Uint8Array): void {
    if (this.closed || this.refusing) return;
    let whole: Uint8Array | undefined;
    try {
      whole = this.reassembler.push(this.receiveCipher.open(frame));
    } catch (err) {
      this.refuse(err instanceof SilkError ? err : new MalformedMessageError("bad frame"));
      return;
    }
    if (!whole) return;
    let message: SessionMessage;
    let decoded: unknown;
    try {
      decoded = decodeJson(whole, MAX_SESSION_MESSAGE_BYTES);
      if (this.probed(decoded)) return;
      message = parseSessionMessage(decoded);
    } catch (err) {
      // A refused request names its id, so the sender can fail that request and nothing else.
      const id = requestIdOf(decoded);
      this.send({ v: 1, t: "error", ...(id && { id }), error: errorToWire(err) }).catch(() => undefined);
      const error = err instanceof SilkError ? err : new MalformedMessageError("unreadable message");
      const t = (decoded as { t?: unknown } | null)?.t;
      const refused = { id, t: typeof t === "string" ? t : undefined, error };
      for (const h of [...this.refusedHandlers]) h(refused);
      return;
    }
    if (message.t === "error" && message.id !== undefined && this.probes.has(message.id)) {
      // An older peer that knows no `ping` refused it by name: it is there all the same.
      this.probes.get(message.id)?.(true);
      return;
    }
    if (message.t === "error" && message.id === undefined) {
      const code = message.error.code;
      if (code === "DECRYPT" || code === "REPLAY") {
        this.close(new PeerRefusedFrameError(code));
        return;
      }
    }
    const handlers = this.messageHandlers;
    try {
      if (handlers.length === 1) handlers[0]!(message);
      else for (const h of [...handlers]) h(message);
    } catch (err) {
      // A listener's bug, thrown inside the transport's delivery where nothing catches it, would
      // end the process (a gateway, for every user): it ends this session instead, saying so.
      this.close(new SilkError("INTERNAL", "listener threw", { cause: err }));
    }
  }
}

/**
 * A bare ChannelClosedError is an ordinary close (undefined). Anything more specific says why, and
 * why must reach the application: signaling lost (`SignalingLostError`, no one's fault at the
 * other end), a move, a protocol error.
 */
function whyEnded(reason: Error): Error | undefined {
  return Object.getPrototypeOf(reason) === ChannelClosedError.prototype ? undefined : reason;
}

function requestIdOf(decoded: unknown): string | undefined {
  if (typeof decoded !== "object" || decoded === null || !("id" in decoded)) return undefined;
  const id = v.safeParse(Id, decoded.id);
  return id.success ? id.output : undefined;
}
