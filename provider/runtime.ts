import { Address } from "@ton/core";
import { connectPeer } from "../peer/connect-peer";
import { endingError, SessionLife } from "../peer/session-life";
import type { Deadlines } from "../peer/session-machine";
import { type ProviderRegistration, type SessionOffer, SignalingClient } from "../peer/signaling-client";
import type { Wrtc } from "../peer/webrtc-link";
import {
  acceptSession,
  costOf,
  DEFAULT_CREDIT_WINDOW_TOKENS,
  decodePublicKey,
  type FrameTransport,
  type KeyPair,
  NETWORK_ID,
  type SecureSession,
  type ServedModel,
  SilkError,
} from "../protocol";
import { basechainPayout } from "../protocol/payout";
import type { Engine } from "../web/engines/engine";
import type { AccountGate } from "./account-gate";
import type { EscrowBook } from "./escrow-book";
import { MemoryReceiptStore, type ReceiptStore } from "./receipt-store";
import { heldIn } from "./serving/held-receipts";
import { type ServingEvent, SessionServer } from "./serving/session-server";
import { Slots } from "./serving/slots";
import { StreamTabs } from "./serving/stream-tabs";
import type { Settlement } from "./settlement";

/**
 * A provider on the network: registers with the signaling server, accepts offered sessions,
 * makes the channel (WebRTC, else the relay), runs the handshake and serves. The same runtime
 * runs in the provider page and in the headless provider.
 */
export interface ProviderRuntimeOptions {
  /** One signaling URL, or several nodes sharing a directory (a list, or comma-separated). */
  readonly signalingUrl: string | readonly string[];
  readonly identity: KeyPair;
  readonly engine: Engine;
  /** What it serves: price, and what each model supports beyond plain chat (features.ts). */
  readonly models: readonly ServedModel[];
  /** TON address that receipts are bound to and claims pay. */
  readonly payout: string;
  /** The provider's Registry entry, as told to the server (requesters check it on chain). */
  readonly entry?: ProviderRegistration["entry"];
  /** How long each signed quote holds (default a day); the provider registers again halfway through. */
  readonly quoteTtlMs?: number;
  readonly network?: number;
  readonly capacity?: number;
  readonly maxWaiting?: number;
  readonly creditWindowTokens?: number;
  /** Where receipts are kept (in memory when omitted). */
  readonly receipts?: ReceiptStore;
  /** Claims on chain as receipts arrive and when sessions end; without it receipts are only kept. */
  readonly settlement?: Settlement;
  /**
   * How often settlement reads the escrows it is owed by and claims what is due (default: a
   * quarter of the shortest close delay served, at most 5 minutes).
   */
  readonly sweepMs?: number;
  /** Checks each requester's escrow before serving (see account-gate.ts). */
  readonly gate?: AccountGate;
  /** What each escrow can still pay, shared by every session and settlement (see escrow-book.ts). */
  readonly book?: EscrowBook;
  readonly wrtc?: Wrtc;
  readonly forceRelay?: boolean;
  readonly directTimeoutMs?: number;
  /** How long each phase of a session may wait (peer/session-machine.ts); the defaults otherwise. */
  readonly deadlines?: Partial<Deadlines>;
  readonly onEvent?: (e: RuntimeEvent) => void;
}

export type RuntimeEvent =
  | ServingEvent
  | { type: "session-open"; sessionId: string; path: "direct" | "relay" }
  | { type: "session-closed"; sessionId: string; reason?: string }
  | { type: "session-failed"; sessionId: string; reason: string }
  /**
   * What the provider's signaling client did by itself failed: registering again after a
   * reconnect, a heartbeat refused (SignalingClientOptions.onError). `message` names the server.
   */
  | { type: "signaling-error"; code: string; message: string };

export { DEFAULT_CREDIT_WINDOW_TOKENS };

/**
 * Sessions taken but not yet secured, beyond `capacity`: an honest server offers no more than the
 * capacity it counts, so more is a flood, each holding a channel until its deadlines.
 */
const OPENING_BEYOND_CAPACITY = 8;

export class ProviderRuntime {
  private paused = false;
  /** Offers taken whose handshake has not finished. */
  private opening = 0;
  private stopSweep: (() => void) | undefined;
  private readonly sessions = new Map<string, SecureSession>();
  /** Live sessions the server no longer counts (ended by its word or with our connection to it). */
  private readonly outlived = new Set<string>();
  /** One live session and one credit window per stream, across this provider's sessions. */
  private readonly tabs = new StreamTabs();

  private constructor(
    readonly signaling: SignalingClient,
    private readonly opts: ProviderRuntimeOptions,
    readonly slots: Slots,
    readonly receipts: ReceiptStore,
  ) {}

  static async start(opts: ProviderRuntimeOptions): Promise<ProviderRuntime> {
    // A typo here would bind every receipt to a wrong address; a masterchain one to an unpaid one.
    basechainPayout(opts.payout);
    const capacity = opts.capacity ?? 1;
    const signaling = await SignalingClient.connect(opts.signalingUrl, {
      onError: (e) => opts.onEvent?.({ type: "signaling-error", code: e.code, message: e.message }),
    });
    const runtime = new ProviderRuntime(
      signaling,
      opts,
      new Slots(capacity, opts.maxWaiting ?? capacity * 4),
      opts.receipts ?? new MemoryReceiptStore(),
    );
    signaling.onOffer((offer) => runtime.onOffer(offer));
    const window = opts.creditWindowTokens ?? DEFAULT_CREDIT_WINDOW_TOKENS;
    // Money is at risk once an escrow's headroom is below what one credit window can cost.
    const windowCost = opts.models.reduce(
      (most, m) => bigMax(most, costOf({ promptTokens: 0, completionTokens: window }, m.price)),
      0n,
    );
    opts.settlement?.raiseRiskHeadroom(windowCost);
    runtime.stopSweep = opts.settlement?.sweepEvery(opts.sweepMs ?? opts.settlement.watchMs);
    const device = await opts.engine.device();
    await signaling.register(
      {
        identity: opts.identity,
        payout: opts.payout,
        models: opts.models,
        capacity,
        device,
        ...(opts.entry && { entry: opts.entry }),
        ...(opts.quoteTtlMs !== undefined && { quoteTtlMs: opts.quoteTtlMs }),
      },
      () => runtime.load,
    );
    return runtime;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /**
   * The places in use, as the server hears them: requests running; while a session outlives the
   * server's word that it ended, every live session, if more. Such a direct session (a requester's
   * signaling dropped, its peer answered the probe) goes on, but the server gave its place back
   * and, counting only the sessions it knows, would offer it again.
   */
  get load(): number {
    return this.outlived.size > 0 ? Math.max(this.slots.load, this.sessions.size) : this.slots.load;
  }

  /**
   * Leaves the directory (no server counts or pairs this provider) and refuses any offer still in
   * flight; sessions already open go on. `resume` is listed again.
   */
  pause(): void {
    this.paused = true;
    this.signaling.pause();
  }

  resume(): void {
    this.paused = false;
    this.signaling.resume();
  }

  /** Leaves the network: ends every session (as a closed tab would) and disconnects. */
  stop(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
    this.stopSweep?.();
    this.signaling.close();
  }

  private async onOffer(offer: SessionOffer): Promise<boolean> {
    if (this.paused || !this.slots.hasRoom) return false;
    if (!this.opts.models.some((m) => m.model === offer.model)) return false;
    if (this.opening >= this.slots.capacity + OPENING_BEYOND_CAPACITY) return false;
    // Listen for the requester's signals before saying yes: they may follow the ack at once.
    const channel = connectPeer({
      signaling: this.signaling,
      sessionId: offer.sessionId,
      role: "provider",
      iceServers: offer.iceServers as RTCIceServer[],
      wrtc: this.opts.wrtc,
      forceRelay: this.opts.forceRelay,
      directTimeoutMs: this.opts.directTimeoutMs,
    });
    this.opening++;
    let opened = false;
    const done = () => {
      if (!opened) this.opening--;
      opened = true;
    };
    void this.serve(offer, channel, done);
    return true;
  }

  /** `opened` is called once, when the session is secured or has failed to be. */
  private async serve(
    offer: SessionOffer,
    channel: ReturnType<typeof connectPeer>,
    opened: () => void,
  ): Promise<void> {
    const emit = this.opts.onEvent;
    // The one owner of this session's life: every phase has a deadline (the channel, the
    // handshake, the base receipt, a receipt for a spent credit window).
    const life = new SessionLife("provider", this.opts.deadlines);
    let transport: FrameTransport | undefined;
    let server: SessionServer | undefined;
    life.bind({
      close: (ending) => {
        if (server) return server.endWith(ending);
        transport?.close(endingError(ending));
        this.signaling.endSession(offer.sessionId, ending?.code ?? "closed");
      },
      closed: (ending) =>
        emit?.({
          type: "session-closed",
          sessionId: offer.sessionId,
          ...(ending && { reason: ending.code }),
        }),
    });
    try {
      const peer = await life.race(channel, (late) => late.transport.close());
      transport = peer.transport;
      life.send({ type: "connected" });
      const session = await life.race(
        acceptSession(peer.transport, {
          sessionId: offer.sessionId,
          requesterFingerprint: peer.requesterFingerprint,
          providerFingerprint: peer.providerFingerprint,
          identity: this.opts.identity,
          expectedSessionKey: decodePublicKey(offer.sessionKey),
          timeoutMs: life.deadlines.handshaking,
        }),
        (late) => late.close(),
      );
      opened();
      life.send({ type: "secured" });
      // A session the server no longer counts (it said the session ended but the peer answered;
      // or our signaling went away) goes on: the server hears its place is taken (see `load`),
      // at once or on registering again.
      peer.probeEnds(session, life.deadlines.probe, () => {
        this.outlived.add(offer.sessionId);
        this.signaling.reportLoad();
      });
      this.sessions.set(offer.sessionId, session);
      emit?.({ type: "session-open", sessionId: offer.sessionId, path: peer.path });
      server = new SessionServer(session, {
        engine: this.opts.engine,
        models: this.opts.models,
        network: this.opts.network ?? NETWORK_ID.devnet,
        payout: Address.parse(this.opts.payout),
        receipts: heldIn(this.receipts, this.opts.settlement),
        slots: this.slots,
        creditWindowTokens: this.opts.creditWindowTokens ?? DEFAULT_CREDIT_WINDOW_TOKENS,
        identity: this.opts.identity,
        quoteTerms: {
          payout: this.opts.payout,
          ...(this.opts.entry && { owner: this.opts.entry.owner }),
          ...(this.opts.quoteTtlMs !== undefined && { ttlMs: this.opts.quoteTtlMs }),
        },
        onEvent: emit,
        life,
        tabs: this.tabs,
        ...(this.opts.gate ? { gate: this.opts.gate } : {}),
        ...(this.opts.book ? { book: this.opts.book } : {}),
      });
      const serving = server;
      session.onClose(() => {
        this.sessions.delete(offer.sessionId);
        if (this.outlived.delete(offer.sessionId)) this.signaling.reportLoad();
        const stream = serving.streamId;
        if (stream) void this.opts.settlement?.endSession([stream]).catch(() => undefined);
        this.signaling.endSession(offer.sessionId, "closed");
      });
    } catch (err) {
      opened();
      life.bind({ closed: () => undefined });
      life.send({ type: "close", ending: { code: "HANDSHAKE", message: "handshake failed" } });
      emit?.({
        type: "session-failed",
        sessionId: offer.sessionId,
        reason: err instanceof SilkError ? err.code : err instanceof Error ? err.name : "error",
      });
    }
  }
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
