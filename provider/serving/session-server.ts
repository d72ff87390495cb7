import type { Address } from "@ton/core";
import { endingError, SessionEndedError, SessionLife } from "../../peer/session-life";
import type { Deadlines, Ending } from "../../peer/session-machine";
import {
  type ChatRequest,
  type EmbedRequest,
  EscrowCannotPayError,
  errorToWire,
  type KeyPair,
  missingNeed,
  needsOf,
  type ProviderErrorCode,
  type SecureSession,
  type ServedModel,
  type SessionMessage,
  type SignedReceipt,
  SilkError,
  STREAM_FULL_MESSAGE,
} from "../../protocol";
import type { Engine } from "../../web/engines/engine";
import { SerialQueue } from "../../web/engines/serial-queue";
import type { AccountGate } from "../account-gate";
import type { EscrowBook } from "../escrow-book";
import { serveChat } from "./chat-serving";
import { serveEmbed } from "./embed-serving";
import type { MidSessionRefusal } from "./escrow-limit";
import type { HeldReceipts } from "./held-receipts";
import { ReceiptAccount } from "./receipt-account";
import type { RequestServing } from "./request-serving";
import type { Slots } from "./slots";
import type { StreamTabs } from "./stream-tabs";
import { unreservedFloor } from "./unreserved-floor";

export interface ServingConfig {
  readonly engine: Engine;
  /** What is served, at what price, with which features (requests needing others are refused). */
  readonly models: readonly ServedModel[];
  readonly network: number;
  readonly payout: Address;
  readonly receipts: HeldReceipts;
  readonly slots: Slots;
  /** Tokens streamed past the last valid receipt before generation pauses. */
  readonly creditWindowTokens: number;
  readonly onEvent?: (e: ServingEvent) => void;
  /** Checks the requester's escrow on chain before serving it; without it, anyone is served. */
  readonly gate?: AccountGate;
  /**
   * The session's life (peer/session-life.ts), from the runtime that made the channel; without
   * it the server keeps its own from the account phase on, with `deadlines`.
   */
  readonly life?: SessionLife;
  readonly deadlines?: Partial<Deadlines>;
  /** What each escrow can still pay: nothing is streamed past it. Without it, no limit but the gate's. */
  readonly book?: EscrowBook;
  /** Signs a statement of every answer (answer-statement.ts); without it answers go unsigned. */
  readonly identity?: KeyPair;
  /**
   * The terms its registration signs each quote with (the payout as registered, its Registry
   * entry's owner): with `identity`, the account signs each model's price on them, so a requester
   * may use this session for a model it was not granted for. Without it, only the granted model.
   */
  readonly quoteTerms?: { readonly payout: string; readonly owner?: string; readonly ttlMs?: number };
  /**
   * The provider's sessions by stream (stream-tabs.ts): one live session per stream, and one credit
   * window per stream across reconnects. Without it each session has its own window.
   */
  readonly tabs?: StreamTabs;
}

export type ServingEvent =
  | { type: "tokens"; count: number }
  | {
      type: "request-done";
      promptTokens: number;
      completionTokens: number;
      cost: bigint;
      finishReason: string;
    }
  | { type: "receipt"; receipt: SignedReceipt }
  | { type: "credit-wait" }
  /** `detail`: what the engine (or the provider's own code) said, for an ENGINE or INTERNAL failure. */
  | { type: "refused"; code: ProviderErrorCode; detail?: string };

/**
 * Serves one encrypted session: establishes the account (base receipt), then runs requests as
 * they come, streaming tokens within the credit window and keeping every valid receipt.
 */
export class SessionServer {
  private readonly account: ReceiptAccount;
  /** Why no more requests are taken on this session (the escrow could not pay for more), if so. */
  private cannotPay: MidSessionRefusal | undefined;
  private readonly inflight = new Map<string, AbortController>();
  /** Receipts are checked and stored one at a time, so two cannot race past each other. */
  private readonly receiptQueue = new SerialQueue();
  private readonly served: ReadonlyMap<string, ServedModel>;

  private readonly life: SessionLife;

  constructor(
    private readonly session: SecureSession,
    private readonly config: ServingConfig,
  ) {
    this.served = new Map(config.models.map((m) => [m.model, m]));
    config.book?.trustUnreservedAtLeast(unreservedFloor(config.models, config.creditWindowTokens));
    this.life = config.life ?? new SessionLife("provider", config.deadlines);
    this.account = new ReceiptAccount(session, config, this.life, {
      refuse: (code, message) => this.refuse(code, message),
      stopServing: (amount) => this.stopServing(amount),
      replaced: () => this.replaced(),
    });
    if (!config.life) {
      this.life.send({ type: "connected" });
      this.life.send({ type: "secured" });
      this.life.bind({ close: (ending) => this.endWith(ending) });
    }
    this.life.bind({
      keepalive: () => {
        for (const id of this.inflight.keys())
          void this.session.send({ v: 1, t: "progress", id }).catch(() => undefined);
      },
      cancelAnswers: () => {
        for (const c of this.inflight.values()) c.abort();
        this.account.credit?.release();
      },
    });
    session.onMessage((m) => {
      this.handle(m).catch((err) => this.fail(err));
    });
    session.onClose((reason) => {
      this.account.close();
      this.life.send({ type: "ended", ...(reason && { ending: endingOf(reason) }) });
    });
  }

  /** Ends the session, telling the requester why first (an id-less error: it fails every request). */
  endWith(ending: Ending | undefined): void {
    if (!ending || !this.session.isOpen) {
      this.session.close();
      return;
    }
    const error = { code: ending.code, message: ending.message };
    void this.session
      .send({ v: 1, t: "error", error })
      .catch(() => undefined)
      .finally(() => this.session.close(endingError(ending)));
  }

  /** The stream (escrow, payout, key epoch) this session's receipts run on, once opened. */
  get streamId(): string | undefined {
    return this.account.stream;
  }

  private async handle(m: SessionMessage): Promise<void> {
    switch (m.t) {
      case "receipt":
        return this.receiptQueue.run(() => this.account.onReceipt(m.receipt, m.quote, m.knows));
      case "request":
        return this.onRequest(m);
      case "embed":
        return this.onEmbed(m);
      case "cancel":
        this.inflight.get(m.id)?.abort();
        return;
      case "error":
        return; // the requester's complaint about something we sent; nothing to do but not crash
      default:
        return this.refuse("UNEXPECTED", `a requester does not send ${m.t}`);
    }
  }

  private async onRequest(req: ChatRequest): Promise<void> {
    const serving = this.admitRequest(req, (served) => {
      const lacking = missingNeed(needsOf(req), served);
      return lacking && `${lacking.param}: ${req.model} here does not support ${lacking.feature}`;
    });
    if (serving)
      await this.track(req.id, serving, (s) =>
        serveChat(req, {
          ...s,
          identity: this.config.identity,
          onTokens: (count) => this.config.onEvent?.({ type: "tokens", count }),
        }),
      );
  }

  private async onEmbed(req: EmbedRequest): Promise<void> {
    const serving = this.admitRequest(req);
    if (serving) await this.track(req.id, serving, (s) => serveEmbed(req, s));
  }

  /**
   * The account, the model (and what `unsupported` finds lacking in it) and a fresh id, or the
   * request is refused (typed) and undefined returned.
   */
  private admitRequest(
    req: { id: string; model: string },
    unsupported?: (served: ServedModel) => string | undefined,
  ): Omit<RequestServing, "signal"> | undefined {
    const { ledger, credit, exposure } = this.account;
    const refuse = (code: ProviderErrorCode, message: string) => {
      void this.refuse(code, message, req.id);
      return undefined;
    };
    if (!ledger || !credit) return refuse("NO_ACCOUNT", "send a base receipt before requests");
    const served = this.served.get(req.model);
    if (!served) return refuse("NO_MODEL", `model ${req.model} is not served here`);
    const lacking = unsupported?.(served);
    if (lacking) return refuse("UNSUPPORTED", lacking);
    // The session bills at a price its quote promised until then: after it, nothing more starts at
    // it (answers under way finish). A requester that reads QUOTE_EXPIRED opens a fresh session,
    // with the current quote, which it checks against its highest price. An older one never
    // retires a session, so it would be refused (PRICE) every request on a busy one for ever: it
    // is served as before, at the session's price, which it accepted and its receipts pay.
    const quoteEnds = this.account.quoteEndsAt(req.model);
    if (quoteEnds !== undefined && Date.now() >= quoteEnds && this.account.knows?.includes("QUOTE_EXPIRED"))
      return refuse(
        "QUOTE_EXPIRED",
        `the quote for ${req.model} on this session expired at ${new Date(quoteEnds).toISOString()}: open a new session for a fresh quote`,
      );
    if (this.inflight.has(req.id) || ledger.has(req.id)) return refuse("DUPLICATE_ID", "request id in use");
    return {
      session: this.session,
      engine: this.config.engine,
      served,
      price: this.account.priceOf(served),
      ledger,
      credit,
      exposure,
      slots: this.config.slots,
      life: this.life,
      cannotPay: () => this.cannotPay,
      refuse: (code, message, detail) => this.refuse(code, message, req.id, detail),
      stopPaying: (amount) => this.stopPaying(amount),
      onDone: (usage, finishReason) =>
        this.config.onEvent?.({ type: "request-done", ...usage, finishReason }),
      onCreditWait: () => this.config.onEvent?.({ type: "credit-wait" }),
    };
  }

  /** Runs a request as in flight: cancellable by id until it ends. */
  private async track(
    id: string,
    serving: Omit<RequestServing, "signal">,
    run: (s: RequestServing) => Promise<void>,
  ): Promise<void> {
    const abort = new AbortController();
    this.inflight.set(id, abort);
    try {
      await run({ ...serving, signal: abort.signal });
    } finally {
      this.inflight.delete(id);
    }
  }

  /** Another session opened this session's stream: stop streaming at once, say why, and end. */
  private replaced(): void {
    const ending = {
      code: "SESSION_REPLACED",
      message: "another session with this provider opened on the same session key; this one ends",
    } as const;
    this.cannotPay = ending;
    for (const c of this.inflight.values()) c.abort();
    this.account.credit?.release();
    this.endWith(ending);
  }

  /**
   * No more requests on this session: it may not be owed `amount` (escrow-limit.ts says why, in
   * the codes the requester reads), or more than a receipt can count. The first cause stands.
   */
  private stopPaying(amount: bigint | "stream"): MidSessionRefusal {
    this.cannotPay ??=
      amount === "stream"
        ? { code: "ESCROW_CANNOT_PAY", message: STREAM_FULL_MESSAGE }
        : (this.account.exposure?.cannotPay(amount, this.account.knows) ?? {
            code: "ESCROW_CANNOT_PAY",
            message: new EscrowCannotPayError().message,
          });
    return this.cannotPay;
  }

  /** A receipt for `amount` the escrow cannot pay: say so (typed), and take no more requests on this session. */
  private async stopServing(amount: bigint): Promise<void> {
    const said = this.stopPaying(amount);
    await this.refuse(said.code, said.message);
  }

  private async refuse(
    code: ProviderErrorCode,
    message: string,
    id?: string,
    detail?: string,
  ): Promise<void> {
    this.config.onEvent?.({ type: "refused", code, ...(detail && { detail }) });
    if (!this.session.isOpen) return;
    await this.session
      .send({ v: 1, t: "error", ...(id ? { id } : {}), error: { code, message } })
      .catch(() => undefined);
  }

  private fail(err: unknown): void {
    if (err instanceof SilkError) {
      const wire = errorToWire(err);
      void this.refuse(wire.code, wire.message);
    } else void this.refuse("INTERNAL", "internal error");
  }
}

/** A session's close reason as the life's ending. */
function endingOf(reason: Error): Ending {
  return reason instanceof SessionEndedError
    ? reason.ending
    : { code: reason instanceof SilkError ? reason.code : "INTERNAL", message: reason.message.slice(0, 200) };
}
