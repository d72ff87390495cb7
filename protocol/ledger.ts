import { MalformedMessageError } from "./errors";
import { costOf, type ModelPrice } from "./pricing";

/**
 * What a session owes, computed the same way on both sides from the same counts, so the
 * requester's receipts and the provider's expectations agree to the nanoTON.
 *
 * Totals are cumulative from the session's base receipt. Each request adds its completion tokens
 * as they stream and its (bounded) prompt tokens when it finishes; its amount is `costOf` over
 * its own usage, rounded once.
 */
export interface Totals {
  readonly tokens: bigint;
  readonly amount: bigint;
}

interface Open {
  readonly price: ModelPrice;
  /** The most its prompt can be billed (0 when not given): `totalsIf` counts it for the others. */
  readonly promptBound: number;
  completion: number;
}

export class Ledger {
  private settledTokens: bigint;
  private settledAmount: bigint;
  private readonly open = new Map<string, Open>();

  constructor(base: Totals) {
    this.settledTokens = base.tokens;
    this.settledAmount = base.amount;
  }

  /** Opens request `id` at `price`; `promptBound`, the most its prompt can be billed at its end. */
  start(id: string, price: ModelPrice, promptBound = 0): void {
    if (this.open.has(id)) throw new MalformedMessageError("request id already in use");
    this.open.set(id, { price, promptBound, completion: 0 });
  }

  has(id: string): boolean {
    return this.open.has(id);
  }

  completionOf(id: string): number {
    return this.get(id).completion;
  }

  addCompletion(id: string, tokens: number): void {
    this.get(id).completion += tokens;
  }

  /** Moves a request into the settled totals; returns its usage and cost. */
  finish(id: string, promptTokens: number): { promptTokens: number; completionTokens: number; cost: bigint } {
    const r = this.get(id);
    this.open.delete(id);
    const usage = { promptTokens, completionTokens: r.completion };
    const cost = costOf(usage, r.price);
    this.settledTokens += BigInt(promptTokens + r.completion);
    this.settledAmount += cost;
    return { ...usage, cost };
  }

  totals(): Totals {
    let tokens = this.settledTokens;
    let amount = this.settledAmount;
    for (const r of this.open.values()) {
      tokens += BigInt(r.completion);
      amount += costOf({ promptTokens: 0, completionTokens: r.completion }, r.price);
    }
    return { tokens, amount };
  }

  /**
   * The totals if request `id` stood at these counts, its prompt billed, and every other open
   * request ended where it stands, its prompt billed at the bound it was started with: the most
   * that can be owed after streaming more, checked before streaming it (the provider never streams
   * what cannot be paid, even when the answers open beside it end and bill their prompts later).
   */
  totalsIf(id: string, promptTokens: number, completionTokens: number): Totals {
    this.get(id);
    let tokens = this.settledTokens;
    let amount = this.settledAmount;
    for (const [key, r] of this.open) {
      const usage =
        key === id
          ? { promptTokens, completionTokens }
          : { promptTokens: r.promptBound, completionTokens: r.completion };
      tokens += BigInt(usage.promptTokens + usage.completionTokens);
      amount += costOf(usage, r.price);
    }
    return { tokens, amount };
  }

  private get(id: string): Open {
    const r = this.open.get(id);
    if (!r) throw new MalformedMessageError("unknown request id");
    return r;
  }
}
