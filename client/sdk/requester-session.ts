import { endingError, SessionLife } from "../../peer/session-life";
import type { Deadlines } from "../../peer/session-machine";
import {
  AnswerBuilder,
  billablePromptTokens,
  buildStatement,
  ChannelClosedError,
  type ChatParams,
  type ChatRequest,
  canonicalJson,
  chatOptionsOf,
  checkBinding,
  completionBytesOf,
  costOf,
  decodeSignedReceipt,
  encodeSignedReceipt,
  equalBytes,
  Ledger,
  type ModelPrice,
  type ModelSupport,
  maxCompletionTokens,
  maxPromptTokens,
  parseSessionMessage,
  priceFits,
  type Receipt,
  ReceiptBindingError,
  type RefusedMessage,
  type SecureSession,
  type SessionMessage,
  type SignedAnswer,
  type SignedReceipt,
  signReceipt,
  stopSequenceIn,
  streamId,
  TOKENS_AFTER_CANCEL,
  unaskedCall,
  verifyReceiptSignature,
  verifySignedAnswer,
} from "../../protocol";
import type { EmbedParams } from "../../protocol/schemas/embedding";
import { abortedError, linkAbort } from "./abort-link";
import { fromAccount, keepAnswerAside } from "./account-calls";
import { accountPrices, unquotedError } from "./account-quotes";
import { sendBase } from "./base-receipt";
import { EmbedCalls, type EmbedOutcome } from "./embed-call";
import {
  OverReportError,
  ProviderError,
  ProviderLostError,
  providerError,
  UnderReportError,
  UnreadableMessageError,
  unsent,
  withoutReserve,
} from "./errors";
import type {
  AnswerDelta,
  BaseOptions,
  RequesterSessionOptions,
  RequestInput,
  RequestResult,
} from "./requester-session-types";
import { ReserveKeeper } from "./reserve-keeper";
import { codeOf, lostError } from "./session-lost";

export type {
  AnswerDelta,
  BaseOptions,
  FinishReason,
  RequesterSessionOptions,
  RequestInput,
  RequestResult,
} from "./requester-session-types";

interface Pending {
  readonly input: RequestInput;
  readonly sent: ChatRequest;
  readonly answer: AnswerBuilder;
  readonly onDelta: (d: AnswerDelta) => void;
  readonly resolve: (r: RequestResult) => void;
  readonly reject: (e: Error) => void;
  readonly price: ModelPrice;
  counted: number;
  /** Bytes of text and tool calls streamed so far: the answer's token bound (`maxCompletionTokens`). */
  bytes: number;
  /** When the last token came (or the request was sent): `progress` counts only so long after it. */
  lastToken: number;
  /**
   * Tokens counted when the caller cancelled (undefined until then): an "abort" finish is then the
   * answer it asked for, and past them only TOKENS_AFTER_CANCEL are paid.
   */
  cancelledAt?: number;
  /**
   * Tokens counted when the cancel had left (its send resolved: on the relay, the server took it):
   * only from then could the provider have heard it, so only from then is it blamed for streaming on.
   */
  cancelCarriedAt?: number;
}

let nextId = 0;

/**
 * How long before a session's quote expires the SDK starts nothing more on it: a request sent
 * then could reach the provider after the expiry, and be refused QUOTE_EXPIRED. At most a quarter
 * of the quote's life left at the open, so a session with short quotes (an operator's 2 s
 * quoteTtlMs) is still used for three quarters of it rather than renewed at once, for ever.
 */
export const QUOTE_RENEW_MS = 2_000;

/**
 * The requester's side of one session: opens the account with a base receipt, sends requests,
 * counts every token it is sent against what the text can hold, and signs cumulative receipts
 * for what it has verified, never more.
 */
export class RequesterSession {
  private readonly pending = new Map<string, Pending>();
  /** When each model's quote in the account expires (ms): its price is the provider's word until then. */
  private quoteEnds: ReadonlyMap<string, { end: number; margin: number }> = new Map();
  /** Nothing more is started here (its quote ran out): it closes once what is under way ends. */
  retired = false;
  private lastSigned: Receipt;
  private readonly receiptEvery: number;
  private readonly embeds: EmbedCalls;

  private constructor(
    private readonly session: SecureSession,
    private readonly opts: RequesterSessionOptions,
    private readonly ledger: Ledger,
    base: Receipt,
    /** What each model costs on this session: only prices the provider signed (account-quotes.ts). */
    readonly prices: ReadonlyMap<string, ModelPrice>,
    /** Models the account prices at terms the provider did not sign: never used here, with why. */
    readonly unquoted: ReadonlyMap<string, string>,
    /** What the provider declared each model supports (its account message). */
    readonly support: ReadonlyMap<string, ModelSupport>,
    private readonly life: SessionLife,
    private readonly reserve: ReserveKeeper | undefined,
  ) {
    this.lastSigned = base;
    this.receiptEvery = opts.receiptEvery ?? 16;
    this.embeds = new EmbedCalls({
      session,
      ledger,
      life,
      signNow: () => this.signNow(),
      abandon: (err) => this.abandon(err),
    });
    // A deadline that runs out (no frame of an answer for `frame` ms) closes the session with a
    // TimeoutError, which each request in flight reads as a StalledError.
    life.bind({ close: (ending) => session.close(endingError(ending)) });
    life.send({ type: "account-open" });
    session.onMessage((m) => this.handle(m));
    session.onRefused((r) => this.unreadable(r));
    session.onClose((reason) => {
      const carrier = this.opts.carrier;
      this.embeds.failAll(lostError(reason, "", 0, 0n, false, carrier));
      const lost: (() => void)[] = [];
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        const cost = this.ledger.has(id) ? this.ledger.finish(id, 0).cost : 0n;
        lost.push(() =>
          p.reject(lostError(reason, p.answer.text, p.counted, cost, p.answer.toolCalls.length > 0, carrier)),
        );
      }
      // What arrived since the last receipt is owed too: signed and saved (nothing can be sent now)
      // before the callers hear of the loss, so a session opened at once to go on has it as its base.
      void this.signNow()
        .catch(() => undefined)
        .finally(() => {
          for (const reject of lost) reject();
        });
      life.send({
        type: "ended",
        ...(reason && { ending: { code: codeOf(reason), message: reason.message } }),
      });
    });
  }

  /**
   * The base receipt a session opens its account with, signed: it needs only the grant (the payout
   * address), so the SDK signs it while the channel is still being made, off the path to the first
   * token. Pass it to `open` as `base`.
   */
  static async signBase(opts: BaseOptions): Promise<SignedReceipt> {
    const stream = {
      network: opts.network,
      escrow: opts.escrow,
      payout: opts.payout,
      keyEpoch: opts.keyEpoch,
    };
    const base = (await fromAccount("last", () => opts.account.last(stream)))?.receipt ?? {
      ...stream,
      tokens: 0n,
      amount: 0n,
    };
    return signReceipt(base, opts.sessionKey);
  }

  static async open(
    session: SecureSession,
    opts: RequesterSessionOptions & { readonly base?: Promise<SignedReceipt> },
  ): Promise<RequesterSession> {
    const life = opts.life ?? ownLife(opts.deadlines);
    const signed = await (opts.base ?? RequesterSession.signBase(opts));
    // Signed for this session's stream, or it is sent to nobody (ReceiptBindingError naming the field).
    checkBinding(signed.receipt, opts);
    if (signed.receipt.keyEpoch !== opts.keyEpoch) throw new ReceiptBindingError("key epoch");
    let base: Receipt = signed.receipt;
    // With reserves: what is already signed is covered (and more ahead) before the provider reads
    // the escrow to open the account; after a withdraw ended the reserve, it would refuse otherwise.
    const reserve = opts.reserve && new ReserveKeeper(base, opts.sessionKey, opts.reserve);
    await reserve?.ensure(base.amount, true);
    let reply = await sendBase(session, signed, life, opts.quote);
    if (reply.refusal)
      throw reserve ? providerError(reply.refusal) : withoutReserve(providerError(reply.refusal));
    if (!reply.accepted && reply.receipt) {
      // The provider holds a newer receipt than ours (we lost state). Adopt it only if our own key
      // signed it for this escrow and payout: anything else could inflate what we would owe.
      const held = decodeSignedReceipt(reply.receipt);
      if (!ownReceipt(held, opts))
        throw new ProviderError("ACCOUNT", "provider holds a receipt we did not sign");
      await fromAccount("save", () => opts.account.save(held));
      base = held.receipt;
      reply = await sendBase(session, signReceipt(base, opts.sessionKey), life, opts.quote);
    }
    if (!reply.accepted) throw new ProviderError("ACCOUNT", "provider refused our base receipt");
    const { prices, unquoted } = accountPrices(reply.prices, opts.quote, session.info.peerKey, Date.now());
    const support = new Map(reply.prices.map((p) => [p.model, p] as const));
    const opened = new RequesterSession(
      session,
      opts,
      new Ledger(base),
      base,
      prices,
      unquoted,
      support,
      life,
      reserve,
    );
    // Each price holds as long as its quote: the account's own, or the grant's for a model the
    // provider signed none for in the account (an older provider). One already run out at the open
    // (only a provider's doing: ours are checked unexpired) is left to the provider to refuse, or
    // every fresh session would be renewed at once.
    const now = Date.now();
    opened.quoteEnds = new Map(
      reply.prices.flatMap((p) => {
        const end = p.quote?.expiresAt ?? (p.model === opts.quote?.model ? opts.quote.expiresAt : undefined);
        if (end === undefined || end <= now) return [];
        return [[p.model, { end, margin: Math.min(QUOTE_RENEW_MS, (end - now) / 4) }] as const];
      }),
    );
    return opened;
  }

  /** Streams one answer; `onDelta` sees each verified piece. Aborting `signal` cancels. */
  request(
    input: RequestInput,
    onDelta: (d: AnswerDelta) => void,
    signal?: AbortSignal,
  ): Promise<RequestResult> {
    const price = this.prices.get(input.model);
    if (!price) return Promise.reject(this.notPriced(input.model));
    if (!priceFits(price, this.opts.maxPrice)) {
      return Promise.reject(new ProviderError("PRICE_TOO_LOW", "the provider's price is above your maximum"));
    }
    // Aborted while its session opened (a gateway's caller gone at once): nothing is sent.
    if (signal?.aborted) return Promise.reject(abortedError());
    const id = `r${++nextId}`;
    let sent: ChatRequest;
    try {
      // Parsed as the provider will parse it, so both hash the same request (answer-statement.ts).
      sent = parseSessionMessage(
        JSON.parse(
          canonicalJson({
            v: 1,
            t: "request",
            id,
            model: input.model,
            messages: input.messages,
            ...chatOptionsOf(input),
          }),
        ),
      ) as ChatRequest;
    } catch (err) {
      return Promise.reject(err);
    }
    const answer = new Promise<RequestResult>((resolve, reject) => {
      this.pending.set(id, {
        input,
        sent,
        answer: new AnswerBuilder(),
        onDelta,
        resolve,
        reject,
        price,
        counted: 0,
        bytes: 0,
        lastToken: Date.now(),
      });
      this.life.send({ type: "answer-start" });
      this.ledger.start(id, price);
      // Aborted while the reserve was raised: a cancel sent then went ahead of the request, which
      // the provider would then have run whole.
      // A message too large to frame throws before any promise exists: caught here all the same.
      const send = async () => {
        if (signal?.aborted) return this.settle(id, abortedError());
        await Promise.resolve()
          .then(() => this.session.send(sent))
          .catch((err: Error) => this.settle(id, unsent(err, "messages")));
      };
      // With reserves: sent once the stream's reserve covers what is signed and this prompt's
      // bound (what the provider counts before the first token), and more ahead.
      if (this.reserve)
        this.reserve.ensure(this.owedAtMost(), true).then(send, (err: Error) => this.settle(id, err));
      else void send();
    });
    const unlink = linkAbort(signal, () => {
      const p = this.pending.get(id);
      if (p) p.cancelledAt ??= p.counted;
      void this.session.send({ v: 1, t: "cancel", id }).then(
        () => {
          if (p) p.cancelCarriedAt ??= p.counted;
        },
        () => undefined,
      );
    });
    return answer.finally(unlink);
  }

  /** Embeds each input with the model; what arrives is checked, then signed for per input token. */
  embed(params: EmbedParams, signal?: AbortSignal): Promise<EmbedOutcome> {
    const price = this.prices.get(params.model);
    if (!price) return Promise.reject(this.notPriced(params.model));
    if (!priceFits(price, this.opts.maxPrice))
      return Promise.reject(new ProviderError("PRICE_TOO_LOW", "the provider's price is above your maximum"));
    return this.embeds.request(params, price, signal);
  }

  get isOpen(): boolean {
    return this.session.isOpen;
  }

  /**
   * Whether `model`'s price here is still the provider's signed word, with QUOTE_RENEW_MS to
   * spare: past it the SDK starts nothing more here and opens a fresh session, whose quote is the
   * provider's current one, checked against the highest price asked (the requester decides anew).
   */
  quoteLive(model: string, now = Date.now()): boolean {
    const quote = this.quoteEnds.get(model);
    return quote === undefined || now < quote.end - quote.margin;
  }

  /** Any model's quote here no longer live: the session is renewed as a whole (one per stream). */
  quoteRunOut(now = Date.now()): boolean {
    for (const model of this.quoteEnds.keys()) if (!this.quoteLive(model, now)) return true;
    return false;
  }

  /** When the first of its quotes stops being live (quoteLive), ms; Infinity when none runs out. */
  quoteRunsOutAt(): number {
    let at = Infinity;
    for (const { end, margin } of this.quoteEnds.values()) at = Math.min(at, end - margin);
    return at;
  }

  /** Resolves once the session has closed. */
  whenClosed(): Promise<void> {
    return new Promise((resolve) => this.session.onClose(() => resolve()));
  }

  get providerKey(): Uint8Array {
    return this.session.info.peerKey;
  }

  /** Why a model without a price here is not served: not offered, or offered at terms not signed. */
  notPriced(model: string): ProviderError {
    const why = this.unquoted.get(model);
    return why
      ? unquotedError(this.providerKey, model, why)
      : new ProviderError("NO_MODEL", `this provider does not serve ${model}`);
  }

  close(): void {
    this.session.close();
  }

  private handle(m: SessionMessage): void {
    if (this.embeds.handle(m)) return;
    const p = "id" in m && m.id !== undefined ? this.pending.get(m.id) : undefined;
    // A provider that only says "working" for longer than `progress` is stalled all the same; so
    // is one that only says it waits for credit (a receipt for all it sent has gone; an honest one
    // streams again or ends at its own credit deadline), or only sends `tokens` that count none
    // (even with text in them): each used to reset `frame` without end.
    const saysOnly = m.t === "progress" || m.t === "credit-wait" || (m.t === "tokens" && countsNone(m));
    if (p && (!saysOnly || Date.now() - p.lastToken < this.life.deadlines.progress)) this.life.frame();
    if (m.t === "tokens") this.onTokens(m);
    else if (m.t === "done") void this.onDone(m);
    else if (m.t === "credit-wait") this.signNow().catch((err) => this.failAll(err));
    else if (m.t === "error") {
      const told = providerError(m.error, m.error.param, p?.sent);
      const err = this.reserve ? told : withoutReserve(told);
      // Without an id the error is about the session (a receipt refused, …): it fails every request.
      if (m.id) this.settle(m.id, err);
      else this.abandon(err);
    }
  }

  /**
   * A message of the provider's the schema refused (it was told), rather than waiting out a
   * deadline: an `error` about a request fails that request now (the provider ended it, billing
   * none of its prompt); anything else about a request in flight (its tokens, its done) leaves the
   * two sides' counts apart, and an `error` without an id was about the session: either ends the
   * session, failing every request. A type this version does not know, from a newer provider, is
   * only told.
   */
  private unreadable(r: RefusedMessage): void {
    if (r.error.code === "UNKNOWN_TYPE") return;
    const err = new UnreadableMessageError(r.t, r.error);
    const id = r.id;
    // An `error` naming a request in flight fails it, by its one owner (a chat answer or an embedding).
    const inFlight = id !== undefined && (this.pending.has(id) || this.embeds.has(id));
    if (inFlight && r.t === "error") {
      if (this.pending.has(id)) this.settle(id, err);
      else this.embeds.fail(id, err);
    } else if (inFlight || (id === undefined && r.t === "error")) this.abandon(err);
  }

  private onTokens(m: Extract<SessionMessage, { t: "tokens" }>): void {
    const { id, text, count, total } = m;
    const p = this.pending.get(id);
    if (!p) return;
    // Tool-call names and arguments are generated tokens too: they count toward the bound.
    // Bounded on the whole answer, not per chunk: one-byte chunks cannot bill two tokens a byte.
    const pieceBytes = completionBytesOf(text, m.tool_calls);
    const bytes = p.bytes + pieceBytes;
    // And from below, per piece: text comes from tokens, so a piece with any counts at least one.
    if (count === 0 && pieceBytes > 0) {
      this.abandon(
        new UnderReportError(
          `provider streamed ${pieceBytes} bytes of answer counted as 0 tokens (a piece of text is at least one)`,
        ),
      );
      return;
    }
    if (p.counted + count > maxCompletionTokens(bytes) || total !== p.counted + count) {
      this.abandon(
        new OverReportError(`provider claimed ${p.counted + count} tokens for an answer of ${bytes} bytes`),
      );
      return;
    }
    // Asked for at most max_tokens: a token past them was refused before it was made, and is not paid.
    const cap = p.sent.max_tokens;
    if (cap !== undefined && p.counted + count > cap) {
      this.abandon(
        new OverReportError(
          `provider streamed ${p.counted + count} tokens, past the request's max_tokens ${cap}`,
        ),
      );
      return;
    }
    // Asked to stop at a sequence: an engine that honours `stop` ends the answer before it and never
    // streams one whole, so text that completes one was not asked for, and is not paid. Tokens
    // given to score are the caller's own, streamed back as they are, whatever they hold.
    const stop = p.sent.score ? undefined : stopSequenceIn(p.sent.stop, p.answer.text, text)?.stop;
    if (stop !== undefined) {
      this.abandon(
        new OverReportError(
          `provider streamed the stop sequence ${JSON.stringify(stop)}, which the request asked it to stop before`,
        ),
      );
      return;
    }
    const unasked = m.tool_calls && unaskedCall(p.input.tools, p.sent, p.answer.toolCalls, m.tool_calls);
    if (unasked) {
      this.abandon(new OverReportError(`provider ${unasked.why}`));
      return;
    }
    if (p.cancelledAt !== undefined && p.counted + count - p.cancelledAt > TOKENS_AFTER_CANCEL) {
      // Paid for what came before and just after the cancel, signed before the provider is dropped.
      const err = this.streamedOn(p, count);
      this.settle(id, err);
      const signed = this.signNow().catch(() => undefined);
      // A cancel that did not get through: neither would the receipt, so the session closes at
      // once (the receipt is saved first, and opens the stream's next session). Only this request
      // is settled: the others on the session read the close as a lost session and fail over.
      if (!(err instanceof OverReportError)) this.session.close(new ChannelClosedError(err.message));
      else void signed.finally(() => this.abandon(err));
      return;
    }
    p.counted += count;
    p.bytes = bytes;
    if (!countsNone(m)) p.lastToken = Date.now();
    p.answer.add({
      text,
      tokens: count,
      ...(m.tool_calls && { toolCalls: m.tool_calls }),
      ...(m.logprobs && { logprobs: m.logprobs }),
    });
    this.ledger.addCompletion(id, count);
    p.onDelta({
      text,
      tokens: count,
      ...(m.tool_calls && { toolCalls: m.tool_calls }),
      ...(m.logprobs && { logprobs: m.logprobs }),
    });
    if (this.ledger.totals().tokens - this.lastSigned.tokens >= BigInt(this.receiptEvery)) {
      void this.signNow().catch((err) => this.failAll(err));
    }
  }

  private async onDone(m: Extract<SessionMessage, { t: "done" }>) {
    const { id, finish_reason: finishReason } = m;
    const completion = m.usage.completion_tokens;
    const p = this.pending.get(id);
    if (!p) return;
    if (completion !== p.counted) {
      return this.abandon(
        new OverReportError(`provider reported ${completion} completion tokens, ${p.counted} were sent`),
      );
    }
    const settled = this.ledger.finish(id, billablePromptTokens(m.usage.prompt_tokens, p.input));
    // Ended: no longer in flight, so what the provider sends on about it while its receipt is saved
    // (a second `done`, tokens after this one) finds nothing to count, rather than a ledger entry
    // already finished (which threw into the void), and the session closing while it is signed for
    // (the provider gone right after its `done`) does not read as the provider lost mid-answer.
    // Still an answer to the life until then, so a receipt that cannot leave meets the frame deadline.
    this.pending.delete(id);
    const checked = this.signedAnswer(m, p);
    // Paid for what was verified either way; a statement that does not hold fails the answer.
    const bad =
      checked === "bad"
        ? "the provider's signed answer statement does not match its answer"
        : !checked && this.opts.requireSignedAnswers
          ? "the provider did not sign its answer"
          : undefined;
    if (bad) {
      await this.signNow().catch(() => undefined);
      this.life.send({ type: "answer-end" });
      const err = new ProviderError("BAD_STATEMENT", bad);
      p.reject(err);
      return this.abandon(err);
    }
    const signed = checked === "bad" ? undefined : checked;
    try {
      await this.signNow();
    } catch (err) {
      return p.reject(err as Error);
    } finally {
      this.life.send({ type: "answer-end" });
    }
    // Kept beside the receipts, but the answer does not wait on it: the statement goes back with
    // the answer (usage.silk.signed_answer), so a store that fails or hangs loses the caller
    // nothing; the app hears of it through `onAccountError`.
    if (signed)
      keepAnswerAside(this.opts.account, signed, this.life.deadlines.account, this.opts.onAccountError);
    // Stopped by the provider (its operator stopped serving, a WebLLM interruptGenerate): a cut-short
    // answer, not a finished one; failover continues it elsewhere, and OpenAI's clients, which know no
    // "abort" finish, never see one they did not ask for.
    if (finishReason === "abort" && p.cancelledAt === undefined) {
      return p.reject(
        new ProviderLostError(
          p.answer.text,
          p.counted,
          settled.cost,
          undefined,
          "the provider stopped the answer before it was complete",
          "PROVIDER_LOST",
          p.answer.toolCalls.length > 0,
        ),
      );
    }
    p.resolve({
      text: p.answer.text,
      toolCalls: p.answer.toolCalls,
      ...(p.answer.unnamedCalls.length > 0 && { unnamedCalls: p.answer.unnamedCalls }),
      ...(p.input.logprobs && { logprobs: p.answer.logprobs }),
      finishReason,
      ...settled,
      price: p.price,
      ...(signed && { signedAnswer: signed }),
      sent: requestParams(p.sent),
    });
  }

  /** The provider's statement, rebuilt from what was sent and seen, with its signature checked. */
  private signedAnswer(
    m: Extract<SessionMessage, { t: "done" }>,
    p: Pending,
  ): SignedAnswer | "bad" | undefined {
    if (!m.signature) return undefined;
    const statement = buildStatement({
      session: this.session.info.sessionId,
      request: m.id,
      provider: this.session.info.peerKey,
      params: p.sent,
      content: p.answer,
      finishReason: m.finish_reason,
      promptTokens: m.usage.prompt_tokens,
      completionTokens: m.usage.completion_tokens,
    });
    const signed = { statement, signature: m.signature };
    return verifySignedAnswer(signed) ? signed : "bad";
  }

  /**
   * The most the provider may count as owed now: what the ledger holds, and each answer still
   * open's prompt at its bound (billed only at its end, but counted by the provider before its
   * first token). A reserve kept this far (plus a window) ahead leaves nothing owed beyond it.
   */
  private owedAtMost(): bigint {
    let prompts = 0n;
    for (const p of this.pending.values())
      prompts += costOf({ promptTokens: maxPromptTokens(p.sent), completionTokens: 0 }, p.price);
    return this.ledger.totals().amount + prompts;
  }

  /** Signs and sends a receipt for everything verified so far, persisting it first. */
  private async signNow(): Promise<void> {
    const totals = this.ledger.totals();
    if (totals.tokens <= this.lastSigned.tokens && totals.amount <= this.lastSigned.amount) return;
    const receipt: Receipt = { ...this.lastSigned, tokens: totals.tokens, amount: totals.amount };
    this.lastSigned = receipt;
    const signed = signReceipt(receipt, this.opts.sessionKey);
    // Ahead of what the provider trusts: a raise not seen in time fails the requests in flight.
    this.reserve?.ensure(this.owedAtMost()).catch((err: Error) => this.failAll(err));
    // Bounded: the request it closes has left `pending`, so a store that never answers would hold it for ever.
    await fromAccount("save", () => this.opts.account.save(signed), this.life.deadlines.account);
    if (!this.session.isOpen) return;
    // A session closed under the send is not this receipt's failure: it is kept, and the stream's
    // next session opens with it (what went wrong with the session, its close says).
    await this.session
      .send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(signed) })
      .catch((err: unknown) => {
        if (this.session.isOpen) throw err;
      });
  }

  /**
   * A cancelled answer streamed past what a cancel pays for. The provider is at fault only if it
   * streamed that much after our cancel left; a cancel still unsent (a relay that does not take our
   * frames, a queue behind a stalled receipt) never reached it: the request ends as the caller's
   * cancel, saying so, and the session is closed so the provider stops.
   */
  private streamedOn(p: Pending, count: number): Error {
    const carried = p.cancelCarriedAt;
    if (carried !== undefined && p.counted + count - carried > TOKENS_AFTER_CANCEL)
      return new OverReportError(
        `provider streamed more than ${TOKENS_AFTER_CANCEL} tokens after the request was cancelled`,
      );
    return new DOMException(
      `cancelled: the cancel had not reached the provider (${carried === undefined ? "not yet carried" : "carried late"}) when ${TOKENS_AFTER_CANCEL} more tokens came, so the session was closed to stop it; paid for those tokens, the provider not blamed`,
      "AbortError",
    );
  }

  private settle(id: string, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.life.send({ type: "answer-end" });
    if (this.ledger.has(id)) this.ledger.finish(id, 0);
    p.reject(err);
  }

  private abandon(err: Error): void {
    this.failAll(err);
    this.session.close(err);
  }

  private failAll(err: Error): void {
    this.embeds.failAll(err);
    for (const id of [...this.pending.keys()]) this.settle(id, err);
  }
}

/**
 * A `tokens` message that counts no token: believed as a "working" is, for `progress` after the
 * last counted token (a liar sending `{count: 0, text: ""}` kept an answer alive for ever, billing
 * nothing). One with text or a tool call's bytes and count 0 is refused at once (UNDER_REPORT):
 * any chunk with a byte of text or tool call counts at least one token (openai-chunks.ts), so an
 * honest count 0 comes only with a tool-call piece of no bytes (an id, a type), between counted ones.
 */
function countsNone(m: Extract<SessionMessage, { t: "tokens" }>): boolean {
  return m.count === 0;
}

function ownReceipt(held: SignedReceipt, opts: RequesterSessionOptions): boolean {
  return (
    equalBytes(held.sessionKey, opts.sessionKey.publicKey) &&
    verifyReceiptSignature(held) &&
    streamId(held.receipt) === streamId(opts)
  );
}

/** A life for a session opened without one (tests, a caller that made its own channel). */
function ownLife(deadlines?: Partial<Deadlines>): SessionLife {
  const life = new SessionLife("requester", deadlines);
  for (const type of ["granted", "connected", "secured"] as const) life.send({ type });
  return life;
}

/** A parsed request without its envelope: the parameters a statement's request hash covers. */
function requestParams(sent: ChatRequest): ChatParams {
  const { v: _v, t: _t, id: _id, ...params } = sent;
  return params;
}
