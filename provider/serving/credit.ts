import type { Totals } from "../../protocol";

/**
 * The provider's side of the credit window: it streams at most `windowTokens` past the last
 * valid receipt. Checkpoints remember what was owed after each message sent, so a receipt can be
 * checked against what was owed at the token count it covers: signing the right tokens with too
 * small an amount earns no credit.
 */
export class CreditWindow {
  private receipted: Totals;
  private checkpoints: Totals[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    base: Totals,
    readonly windowTokens: number,
  ) {
    this.receipted = base;
  }

  /** Call after every message that changes what is owed. */
  record(owed: Totals): void {
    this.checkpoints.push(owed);
  }

  /** Whether `r` pays at least what was owed at its token count. */
  covers(r: Totals): boolean {
    let required: Totals | undefined;
    for (const c of this.checkpoints) if (c.tokens <= r.tokens) required = c;
    return !required || r.amount >= required.amount;
  }

  /** Accepts a receipt already checked with `covers`, and wakes whatever waits for credit. */
  credit(r: Totals): void {
    if (r.tokens <= this.receipted.tokens) return;
    this.receipted = r;
    this.checkpoints = this.checkpoints.filter((c) => c.tokens > r.tokens);
    for (const w of this.waiters.splice(0)) w();
  }

  get receiptedTotals(): Totals {
    return this.receipted;
  }

  exhausted(owed: Totals): boolean {
    return owed.tokens - this.receipted.tokens >= BigInt(this.windowTokens);
  }

  /** Resolves at the next credit (or at `release`, when the session ends). */
  nextCredit(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
