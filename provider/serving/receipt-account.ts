import type { SessionLife } from "../../peer/session-life";
import {
  checkBinding,
  codeFor,
  compareReceipts,
  decodeSignedReceipt,
  encodePublicKey,
  encodeSignedReceipt,
  equalBytes,
  Ledger,
  type ModelPrice,
  offerToWire,
  type ProviderErrorCode,
  QUOTE_TTL_MS,
  quoteFields,
  type SecureSession,
  type ServedModel,
  type ShownQuote,
  type SignedQuote,
  type SignedReceipt,
  signQuote,
  streamId,
  verifyReceiptSignature,
} from "../../protocol";
import { AccountRefusedError, type EscrowFacts } from "../account-gate";
import { CreditWindow } from "./credit";
import { EscrowLimit } from "./escrow-limit";
import { honouredPrice } from "./honoured-quote";
import type { ServingConfig } from "./session-server";
import type { StreamTab } from "./stream-tabs";

type AccountConfig = Pick<
  ServingConfig,
  | "models"
  | "network"
  | "payout"
  | "receipts"
  | "creditWindowTokens"
  | "onEvent"
  | "gate"
  | "book"
  | "tabs"
  | "identity"
  | "quoteTerms"
>;

export interface AccountHooks {
  refuse(code: ProviderErrorCode, message: string): Promise<void>;
  /** The escrow cannot pay for more: no more requests on this session. */
  stopServing(amount: bigint): Promise<void>;
  /** Another session opened this one's stream (stream-tabs.ts): this one ends. */
  replaced(): void;
}

/**
 * A session's account with its requester: the first receipt opens it (the requester's cumulative
 * totals to this payout address, checked against its escrow); every later one is checked, kept
 * before any token is streamed on its credit, and extends the credit window. Receipts arrive one
 * at a time (the session queues them), so two cannot race past each other.
 */
export class ReceiptAccount {
  ledger: Ledger | undefined;
  credit: CreditWindow | undefined;
  /** The stream (escrow, payout, key epoch) this session's receipts run on, once opened. */
  stream: string | undefined;
  exposure: EscrowLimit | undefined;
  private tab: StreamTab | undefined;
  /** Models this session is served below the provider's price: its own quote, shown and honoured. */
  private readonly honoured = new Map<string, ModelPrice>();
  /**
   * When each model's quote in this session's account expires (ms): the price the session bills
   * is the provider's word only until then (a shown quote it honours, or one signed at the account).
   */
  private readonly quoteEnds = new Map<string, number>();
  /** The newer codes the requester declared it reads (its base receipt's `knows`). */
  knows: readonly string[] | undefined;

  constructor(
    private readonly session: SecureSession,
    private readonly config: AccountConfig,
    private readonly life: SessionLife,
    private readonly hooks: AccountHooks,
  ) {}

  /** The session ended: what it was owed no longer counts against the escrow's other streams. */
  close(): void {
    this.exposure?.close();
    this.tab?.close();
  }

  /** When the quote this session's price for `model` rests on expires (ms); undefined: none signed. */
  quoteEndsAt(model: string): number | undefined {
    return this.quoteEnds.get(model);
  }

  /** What `m` costs on this session: the provider's price, or the lower one of its own quote shown at the base. */
  priceOf(m: ServedModel): ModelPrice {
    return this.honoured.get(m.model) ?? m.price;
  }

  async onReceipt(text: string, quote?: ShownQuote, knows?: readonly string[]): Promise<void> {
    const signed = decodeSignedReceipt(text);
    if (!equalBytes(signed.sessionKey, this.session.info.peerKey)) {
      return this.hooks.refuse("RECEIPT_KEY", "receipt is not signed by this session's key");
    }
    checkBinding(signed.receipt, {
      network: this.config.network,
      escrow: signed.receipt.escrow,
      payout: this.config.payout,
    });
    if (this.stream && streamId(signed.receipt) !== this.stream) {
      return this.hooks.refuse(
        "RECEIPT_STREAM",
        "receipt is for another escrow or key epoch than this session's",
      );
    }
    // The base receipt's escrow read (a chain round trip) runs while its signature is checked: both
    // are on the way to the first token. A bad signature discards the read's answer unheard.
    const gated = this.ledger
      ? undefined
      : this.config.gate?.check(signed.receipt, this.session.info.peerKey);
    gated?.catch(() => undefined);
    if (!verifyReceiptSignature(signed))
      return this.hooks.refuse("BAD_SIGNATURE", "receipt signature is invalid");
    if (!this.ledger) return this.openAccount(signed, gated, quote, knows);

    const r = signed.receipt;
    const owed = this.ledger.totals();
    if (r.tokens > owed.tokens)
      return this.hooks.refuse("RECEIPT_AHEAD", "receipt covers tokens never streamed");
    if (!this.credit!.covers(r))
      return this.hooks.refuse("RECEIPT_UNDERPAID", "receipt amount is below the price");
    const held = await this.config.receipts.best(r);
    if (held && compareReceipts(r, held.receipt) !== "newer") {
      if (compareReceipts(r, held.receipt) === "same") return;
      return this.hooks.refuse("RECEIPT_STALE", "receipt is not newer than the one held");
    }
    if (this.exposure && !(await this.exposure.allows(r.amount))) {
      // Kept beside the last payable receipt (a top-up may make it good), but it earns no credit.
      await this.config.receipts.keep(signed, false);
      return this.hooks.stopServing(r.amount);
    }
    await this.config.receipts.keep(signed); // persisted before any token is streamed on its credit
    this.exposure?.held(r.amount);
    this.config.onEvent?.({ type: "receipt", receipt: signed });
    this.credit!.credit(r);
  }

  /** The first receipt sets the base: the requester's cumulative totals with this payout address. */
  private async openAccount(
    signed: SignedReceipt,
    gated: Promise<EscrowFacts> | undefined,
    quote: ShownQuote | undefined,
    knows: readonly string[] | undefined,
  ): Promise<void> {
    // Honoured at the base that shows it, and only there: a base not taken (an older receipt)
    // left its quote's price for the next, which then signed a fresh quote at that old price.
    this.honoured.clear();
    const identity = this.config.identity;
    if (quote && identity) {
      const own = { identityKey: identity.publicKey, payout: this.config.payout };
      for (const m of this.config.models) {
        const price = honouredPrice(m, quote, own, Date.now());
        if (price !== m.price) this.honoured.set(m.model, price);
      }
    }
    this.knows = knows;
    const prices = this.config.models.map((m) => {
      const signed = this.quoteOf(m, quote);
      if (signed) this.quoteEnds.set(m.model, signed.expiresAt);
      else this.quoteEnds.delete(m.model);
      return offerToWire({ ...m, price: this.priceOf(m) }, signed);
    });
    let facts: EscrowFacts | undefined;
    try {
      facts = await gated;
      if (this.config.book) {
        this.exposure = new EscrowLimit(this.config.book, signed.receipt);
        // The gate checked this stream; the book also counts what the provider's other streams are owed.
        if (!(await this.exposure.allows(signed.receipt.amount + 1n))) {
          const refusal = this.exposure.refusalFor(signed.receipt.amount + 1n);
          this.exposure.close();
          this.exposure = undefined;
          throw refusal;
        }
      }
    } catch (err) {
      if (!(err instanceof AccountRefusedError)) throw err;
      this.config.onEvent?.({ type: "refused", code: err.code });
      await this.session.send({
        v: 1,
        t: "account",
        accepted: false,
        // A code newer than the requester reads goes as the older one it stands in for (OLDER_CODE).
        refusal: { code: codeFor(err.code, knows), message: err.message },
        prices,
      });
      return;
    }
    const held = await this.config.receipts.best(signed.receipt);
    const order = held ? compareReceipts(signed.receipt, held.receipt) : "newer";
    const accepted = order === "newer" || order === "same";
    // The escrow pays a stream its newest receipt less what it already paid: on a base below that
    // (an old receipt replayed, or none, to a provider that holds no newer one: another machine of
    // this payout, a store lost), every receipt up to the paid total would be worth nothing.
    if (accepted && facts && signed.receipt.amount < facts.paid) {
      this.exposure?.close();
      this.exposure = undefined;
      return this.hooks.refuse(
        "RECEIPT_STALE",
        `the escrow already paid this stream ${facts.paid} nanoTON, more than the ${signed.receipt.amount} of your base receipt: open with your newest receipt on it`,
      );
    }
    if (accepted) {
      if (order === "newer") await this.config.receipts.keep(signed);
      const tab = this.config.tabs?.open(
        streamId(signed.receipt),
        signed.receipt.tokens,
        this.config.creditWindowTokens,
        {
          streamed: () => this.ledger?.totals().tokens ?? signed.receipt.tokens,
          receipted: () => this.credit?.receiptedTotals.tokens ?? signed.receipt.tokens,
          replaced: () => this.hooks.replaced(),
        },
      );
      if (tab && "unpaid" in tab) return this.refuseUnpaid(tab.unpaid, prices);
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

  /**
   * Its signed word for the price `m` is served at on this session: the requester uses a model it
   * was not granted for only at a price this signs (client/sdk/account-quotes.ts). The quote the
   * requester showed, when that is the price honoured (`honoured` holds only the model that quote
   * names: it is cleared at each base); else signed now, on the registration's terms.
   */
  private quoteOf(m: ServedModel, shown: ShownQuote | undefined): SignedQuote | undefined {
    if (shown && this.honoured.has(m.model)) return quoteFields(shown);
    const { identity, quoteTerms } = this.config;
    if (!identity || !quoteTerms) return undefined;
    // The operator's quote life, as its registration's quotes have (a shown quote is honoured until it expires).
    const expiresAt = Date.now() + (quoteTerms.ttlMs ?? QUOTE_TTL_MS);
    const { owner } = quoteTerms;
    return {
      expiresAt,
      ...(owner && { owner }),
      signature: signQuote(identity.secretKey, {
        identityKey: encodePublicKey(identity.publicKey),
        payout: quoteTerms.payout,
        model: m.model,
        price: this.priceOf(m),
        expiresAt,
        owner,
      }),
    };
  }

  /** An earlier session of the stream streamed a whole window past the base: nothing more on credit. */
  private async refuseUnpaid(unpaid: bigint, prices: ReturnType<typeof offerToWire>[]): Promise<void> {
    this.exposure?.close();
    this.exposure = undefined;
    const refusal = {
      code: "UNPAID_TOKENS" as const,
      message: `an earlier session streamed ${unpaid} tokens past your last receipt on this stream: open with a receipt that covers them, or come back later`,
    };
    this.config.onEvent?.({ type: "refused", code: refusal.code });
    await this.session.send({ v: 1, t: "account", accepted: false, refusal, prices });
  }
}
