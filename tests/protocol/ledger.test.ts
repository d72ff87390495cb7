import { describe, expect, it } from "vitest";
import { costOf, flatPrice, Ledger } from "../../protocol";

const PRICE = flatPrice(1_000n);

describe("the ledger's what-if totals (what the provider checks before streaming more)", () => {
  it("count every other open request's prompt at its bound, since each bills its prompt when it ends", () => {
    const ledger = new Ledger({ tokens: 10n, amount: 10_000n });
    ledger.start("a", PRICE, 40);
    ledger.start("b", PRICE, 30);
    ledger.addCompletion("b", 5);
    // a at 20 prompt and 7 completion tokens; b where it stands (5) with its prompt at its bound (30).
    expect(ledger.totalsIf("a", 20, 7)).toEqual({
      tokens: 10n + 27n + 35n,
      amount:
        10_000n +
        costOf({ promptTokens: 20, completionTokens: 7 }, PRICE) +
        costOf({ promptTokens: 30, completionTokens: 5 }, PRICE),
    });
    // Whatever b then bills for its prompt (at most its bound), a's check held.
    ledger.finish("b", 30);
    ledger.addCompletion("a", 7);
    ledger.finish("a", 20);
    expect(ledger.totals().amount).toBe(10_000n + 27_000n + 35_000n);
  });

  it("a request started without a bound (the requester's side) counts only what it streamed", () => {
    const ledger = new Ledger({ tokens: 0n, amount: 0n });
    ledger.start("a", PRICE);
    ledger.start("b", PRICE);
    ledger.addCompletion("b", 3);
    expect(ledger.totalsIf("a", 4, 1)).toEqual({ tokens: 8n, amount: 8_000n });
  });
});
