import type { Address } from "@ton/core";
import { endingError, SessionEndedError, SessionLife } from "../../peer/session-life";
import type { Deadlines, Ending } from "../../peer/session-machine";
import {
  AnswerBuilder,
  billablePromptTokens,
  buildStatement,
  type ChatRequest,
  checkBinding,
  compareReceipts,
  decodeSignedReceipt,
  type EmbedRequest,
  EscrowCannotPayError,
  encodeSignedReceipt,
  equalBytes,
  errorToWire,
  type KeyPair,
  Ledger,
  type ModelPrice,
  maxPromptTokens,
  missingNeed,
  needsOf,
  offerToWire,
  type ProviderErrorCode,
  type SecureSession,
  type ServedModel,
  type SessionMessage,
  type SignedReceipt,
  SilkError,
  signStatement,
  streamId,
  verifyReceiptSignature,
} from "../../protocol";
import type { Engine } from "../../web/engines/engine";
import { SerialQueue } from "../../web/engines/serial-queue";
import { type AccountGate, AccountRefusedError } from "../account-gate";
import type { EscrowBook } from "../escrow-book";
import { CreditWindow } from "./credit";
import { serveEmbed } from "./embed-serving";
import { EscrowLimit } from "./escrow-limit";
import { failureOf } from "./failure";
import type { HeldReceipts } from "./held-receipts";
import { runOnEngine } from "./scoring";
import type { Slots } from "./slots";
import type { StreamTab, StreamTabs } from "./stream-tabs";

const CLOSING_MESSAGE = "the escrow started closing: no more is served on it; what was streamed is claimed";

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
  | { type: "refused"; code: ProviderErrorCode };

/**
 * Serves one encrypted session: establishes the account (base receipt), then runs requests as
 * they come, streaming tokens within the credit window and keeping every valid receipt.
 */
export class SessionServer {
  private ledger: Ledger | undefined;
  private credit: CreditWindow | undefined;
  private stream: string | undefined;
  private exposure: EscrowLimit | undefined;
  private tab: StreamTab | undefined;
  /** The escrow could not pay for more: no more requests on this session. */
  private cannotPay = false;
  private readonly inflight = new Map<string, AbortController>();
  /** Receipts are checked and stored one at a time, so two cannot race past each other. */
  private readonly receiptQueue = new SerialQueue();
  private readonly served: ReadonlyMap<string, ServedModel>;
  private readonly prices: ReadonlyMap<string, ModelPrice>;

  private readonly life: SessionLife;

  constructor(
    private readonly session: SecureSession,
    private readonly config: ServingConfig,
  ) {
    this.served = new Map(config.models.map((m) => [m.model, m]));
    this.prices = new Map(config.models.map((m) => [m.model, m.price]));
    this.life = config.life ?? new SessionLife("provider", config.deadlines);
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
        this.credit?.release();
      },
    });
    session.onMessage((m) => {
      this.handle(m).catch((err) => this.fail(err));
    });
    session.onClose((reason) => {
      this.exposure?.close();
      this.tab?.close();
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
    return this.stream;
  }

  private async handle(m: SessionMessage): Promise<void> {
    switch (m.t) {
      case "receipt":
        return this.receiptQueue.run(() => this.onReceipt(m.receipt));
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

  private async onReceipt(text: string): Promise<void> {
    const signed = decodeSignedReceipt(text);
    if (!equalBytes(signed.sessionKey, this.session.info.peerKey)) {
      return this.refuse("RECEIPT_KEY", "receipt is not signed by this session's key");
    }
    checkBinding(signed.receipt, {
      network: this.config.network,
      escrow: signed.receipt.escrow,
      payout: this.config.payout,
    });
    if (this.stream && streamId(signed.receipt) !== this.stream) {
      return this.refuse("RECEIPT_STREAM", "receipt is for another escrow or key epoch than this session's");
    }
    // The base receipt's escrow read (a chain round trip) runs while its signature is checked: both
    // are on the way to the first token. A bad signature discards the read's answer unheard.
    const gated = this.ledger
      ? undefined
      : this.config.gate?.check(signed.receipt, this.session.info.peerKey);
    gated?.catch(() => undefined);
    if (!verifyReceiptSignature(signed)) return this.refuse("BAD_SIGNATURE", "receipt signature is invalid");
    if (!this.ledger) return this.openAccount(signed, gated);

    const r = signed.receipt;
    const owed = this.ledger.totals();
    if (r.tokens > owed.tokens) return this.refuse("RECEIPT_AHEAD", "receipt covers tokens never streamed");
    if (!this.credit!.covers(r)) return this.refuse("RECEIPT_UNDERPAID", "receipt amount is below the price");
    const held = await this.config.receipts.best(r);
    if (held && compareReceipts(r, held.receipt) !== "newer") {
      if (compareReceipts(r, held.receipt) === "same") return;
      return this.refuse("RECEIPT_STALE", "receipt is not newer than the one held");
    }
    if (this.exposure && !(await this.exposure.allows(r.amount))) {
      // Kept beside the last payable receipt (a top-up may make it good), but it earns no credit.
      await this.config.receipts.keep(signed, false);
      return this.stopServing();
    }
    await this.config.receipts.keep(signed); // persisted before any token is streamed on its credit
    this.exposure?.held(r.amount);
    this.config.onEvent?.({ type: "receipt", receipt: signed });
    this.credit!.credit(r);
  }

  /** The first receipt sets the base: the requester's cumulative totals with this payout address. */
  private async openAccount(signed: SignedReceipt, gated: Promise<unknown> | undefined): Promise<void> {
    const prices = this.config.models.map(offerToWire);
    try {
      await gated;
      if (this.config.book) {
        this.exposure = new EscrowLimit(this.config.book, signed.receipt);
        // The gate checked this stream; the book also counts what the provider's other streams are owed.
        if (!(await this.exposure.allows(signed.receipt.amount + 1n))) {
          this.exposure.close();
          this.exposure = undefined;
          throw new AccountRefusedError("OUT_OF_FUNDS", "the escrow cannot cover more answers; top it up");
        }
      }
    } catch (err) {
      if (!(err instanceof AccountRefusedError)) throw err;
      this.config.onEvent?.({ type: "refused", code: err.code });
      await this.session.send({
        v: 1,
        t: "account",
        accepted: false,
        refusal: { code: err.code, message: err.message },
        prices,
      });
      return;
    }
    const held = await this.config.receipts.best(signed.receipt);
    const order = held ? compareReceipts(signed.receipt, held.receipt) : "newer";
    const accepted = order === "newer" || order === "same";
    if (accepted) {
      if (order === "newer") await this.config.receipts.keep(signed);
      const tab = this.config.tabs?.open(
        streamId(signed.receipt),
        signed.receipt.tokens,
        this.config.creditWindowTokens,
        {
          streamed: () => this.ledger?.totals().tokens ?? signed.receipt.tokens,
          replaced: () => this.replaced(),
        },
      );
      if (tab && "unpaid" in tab) {
        this.exposure?.close();
        this.exposure = undefined;
        const refusal = {
          code: "UNPAID_TOKENS" as const,
          message: `an earlier session streamed ${tab.unpaid} tokens past your last receipt on this stream: open with a receipt that covers them, or come back later`,
        };
        this.config.onEvent?.({ type: "refused", code: refusal.code });
        await this.session.send({ v: 1, t: "account", accepted: false, refusal, prices });
        return;
      }
      this.tab = tab;
      this.exposure?.held(signed.receipt.amount);
      this.stream = streamId(signed.receipt);
      this.ledger = new Ledger(signed.receipt);
      this.credit = new CreditWindow(signed.receipt, tab?.windowTokens ?? this.config.creditWindowTokens);
      this.life.send({ type: "account-open" });
    }
    await this.session.send({
      v: 1,
      t: "account",
      accepted,
      ...(held || accepted ? { receipt: encodeSignedReceipt(accepted ? signed : held!) } : {}),
      prices,
    });
  }

  private async onRequest(req: ChatRequest): Promise<void> {
    const { ledger, credit } = this;
    if (!ledger || !credit) return this.refuse("NO_ACCOUNT", "send a base receipt before requests", req.id);
    const price = this.prices.get(req.model);
    if (!price) return this.refuse("NO_MODEL", `model ${req.model} is not served here`, req.id);
    const lacking = missingNeed(needsOf(req), this.served.get(req.model));
    if (lacking)
      return this.refuse(
        "UNSUPPORTED",
        `${lacking.param}: ${req.model} here does not support ${lacking.feature}`,
        req.id,
      );
    if (this.inflight.has(req.id) || ledger.has(req.id))
      return this.refuse("DUPLICATE_ID", "request id in use", req.id);
    const exposure = this.exposure;
    // The prompt is billed at the end: what it can cost is counted before the first token.
    const promptBound = maxPromptTokens(req);
    const owedAfter = (completion: number) => ledger.totalsIf(req.id, promptBound, completion).amount;

    const abort = new AbortController();
    this.inflight.set(req.id, abort);
    this.life.send({ type: "answer-start" });
    let release: (() => void) | undefined;
    try {
      release = await this.config.slots.acquire(abort.signal);
      ledger.start(req.id, price);
      if (exposure && (await exposure.closingNow())) {
        ledger.finish(req.id, 0);
        return await this.refuse("ESCROW_CLOSING", CLOSING_MESSAGE, req.id);
      }
      if (this.cannotPay || (exposure && !(await exposure.allows(owedAfter(1))))) {
        ledger.finish(req.id, 0);
        const e = new EscrowCannotPayError();
        this.cannotPay = true;
        return await this.refuse(e.code, e.message, req.id);
      }
      let total = 0;
      const answer = new AnswerBuilder();
      let cut: "closing" | "cannot-pay" | undefined;
      const result = await runOnEngine(
        this.config.engine,
        req,
        async (chunk) => {
          // The wait has a deadline (the life's `credit` timer): past it the session ends, which
          // aborts this generation and frees the engine.
          if (credit.exhausted(ledger.totals())) {
            while (credit.exhausted(ledger.totals()) && !abort.signal.aborted && this.session.isOpen) {
              this.config.onEvent?.({ type: "credit-wait" });
              this.life.send({ type: "credit-wait" });
              await this.session.send({ v: 1, t: "credit-wait", id: req.id });
              await credit.nextCredit();
            }
            this.life.send({ type: "credit" });
          }
          if (abort.signal.aborted || !this.session.isOpen) return;
          // Never owed more than the escrow can pay: stop before a chunk that would cross it.
          if (exposure && (exposure.closing || !(await exposure.allows(owedAfter(total + chunk.tokens))))) {
            cut = exposure.closing ? "closing" : "cannot-pay";
            abort.abort();
            return;
          }
          total += chunk.tokens;
          ledger.addCompletion(req.id, chunk.tokens);
          credit.record(ledger.totals());
          exposure?.owe(ledger.totalsIf(req.id, promptBound, total).amount);
          this.config.onEvent?.({ type: "tokens", count: chunk.tokens });
          await this.session.send({
            v: 1,
            t: "tokens",
            id: req.id,
            text: chunk.text,
            ...(chunk.toolCalls && { tool_calls: [...chunk.toolCalls] }),
            ...(chunk.logprobs && { logprobs: [...chunk.logprobs] }),
            count: chunk.tokens,
            total,
          });
          answer.add(chunk);
        },
        abort.signal,
      );
      // Billing counts what was streamed and the full prompt, bounded by what the requester can check.
      const prompt = billablePromptTokens(result.promptTokens, req);
      const settled = ledger.finish(req.id, prompt);
      credit.record(ledger.totals());
      exposure?.owe(ledger.totals().amount);
      // Cut short because the escrow cannot pay for more: "length", then the reason, typed.
      const finishReason = cut ? "length" : abort.signal.aborted ? "abort" : result.finishReason;
      this.config.onEvent?.({ type: "request-done", ...settled, finishReason });
      if (this.session.isOpen) {
        await this.session.send({
          v: 1,
          t: "done",
          id: req.id,
          finish_reason: finishReason,
          usage: { prompt_tokens: settled.promptTokens, completion_tokens: settled.completionTokens },
          ...(this.config.identity && {
            signature: signStatement(
              this.config.identity,
              buildStatement({
                session: this.session.info.sessionId,
                request: req.id,
                provider: this.config.identity.publicKey,
                params: req,
                content: answer,
                finishReason,
                promptTokens: settled.promptTokens,
                completionTokens: settled.completionTokens,
              }),
            ).signature,
          }),
        });
      }
      // The answer ends as cut short ("length"), so the requester signs for all of it; the next
      // request on this session is refused with the reason, typed.
      if (cut === "cannot-pay") this.cannotPay = true;
    } catch (err) {
      if (ledger.has(req.id)) ledger.finish(req.id, 0);
      if (this.session.isOpen) {
        const failure = failureOf(err);
        await this.refuse(failure.code, failure.message, req.id);
      }
    } finally {
      release?.();
      this.inflight.delete(req.id);
      this.life.send({ type: "answer-end" });
    }
  }

  private async onEmbed(req: EmbedRequest): Promise<void> {
    const { ledger, credit } = this;
    if (!ledger || !credit) return this.refuse("NO_ACCOUNT", "send a base receipt before requests", req.id);
    const served = this.served.get(req.model);
    if (!served) return this.refuse("NO_MODEL", `model ${req.model} is not served here`, req.id);
    if (this.inflight.has(req.id) || ledger.has(req.id))
      return this.refuse("DUPLICATE_ID", "request id in use", req.id);
    const abort = new AbortController();
    this.inflight.set(req.id, abort);
    try {
      await serveEmbed(req, {
        session: this.session,
        engine: this.config.engine,
        served,
        price: served.price,
        ledger,
        credit,
        exposure: this.exposure,
        slots: this.config.slots,
        life: this.life,
        signal: abort.signal,
        cannotPay: this.cannotPay,
        refuse: (code, message) => this.refuse(code, message, req.id),
        stopPaying: () => {
          this.cannotPay = true;
        },
        onDone: (usage) => this.config.onEvent?.({ type: "request-done", ...usage, finishReason: "stop" }),
        onCreditWait: () => this.config.onEvent?.({ type: "credit-wait" }),
      });
    } finally {
      this.inflight.delete(req.id);
    }
  }

  /** Another session opened this session's stream: stop streaming at once, say why, and end. */
  private replaced(): void {
    this.cannotPay = true;
    for (const c of this.inflight.values()) c.abort();
    this.credit?.release();
    this.endWith({
      code: "SESSION_REPLACED",
      message: "another session with this provider opened on the same session key; this one ends",
    });
  }

  /** The escrow cannot pay for more: say so (typed), and take no more requests on this session. */
  private async stopServing(): Promise<void> {
    this.cannotPay = true;
    const e = new EscrowCannotPayError();
    await this.refuse(e.code, e.message);
  }

  private async refuse(code: ProviderErrorCode, message: string, id?: string): Promise<void> {
    this.config.onEvent?.({ type: "refused", code });
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
