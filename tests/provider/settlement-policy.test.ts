import { describe, expect, it } from "vitest";
import { EscrowError } from "../../contracts/generated/constants";
import {
  type ClaimSituation,
  classifyRefusal,
  decideClaim,
  retryDelayMs,
  type SettlementPolicy,
  shareBps,
  worthAt,
} from "../../provider/settlement-policy";

const HOUR = 3_600_000;
const policy: SettlementPolicy = {
  feeShareBps: 100, // 1%
  maxHoldMs: 24 * HOUR,
  riskHeadroomNano: 50_000_000n,
  minClaimNano: 10_000_000n,
  maxAttempts: 3,
  retryBaseMs: 50,
};
const FEE = 3_392_800n; // an external claim of the hot stream at mainnet prices
const T = 1_000 * HOUR;
const calm: ClaimSituation = {
  unclaimed: 0n,
  fee: FEE,
  heldSince: T - HOUR,
  now: T,
  closing: false,
  headroom: 5_000_000_000n,
};

// amount, fee, risk signals in; claim or wait (and why) out.
const table: [string, Partial<ClaimSituation>, string][] = [
  ["nothing held", { unclaimed: 0n }, "nothing"],
  ["below the escrow's minimum claim", { unclaimed: 9_999_999n }, "wait below-minimum"],
  ["below the minimum even when closing", { unclaimed: 9_999_999n, closing: true }, "wait below-minimum"],
  ["fee 34% of a 0.01 TON claim", { unclaimed: 10_000_000n }, "wait fee-above-target"],
  ["fee just above 1%", { unclaimed: 339_279_999n }, "wait fee-above-target"],
  ["fee exactly 1%", { unclaimed: 339_280_000n }, "claim worth-it"],
  ["fee under 1%", { unclaimed: 2_000_000_000n }, "claim worth-it"],
  ["prices unknown, nothing at risk", { unclaimed: 2_000_000_000n, fee: undefined }, "wait fee-unknown"],
  [
    "prices unknown, escrow closing",
    { unclaimed: 20_000_000n, fee: undefined, closing: true },
    "claim escrow-closing",
  ],
  ["escrow closing, small amount", { unclaimed: 20_000_000n, closing: true }, "claim escrow-closing"],
  ["session key revoked, small amount", { unclaimed: 20_000_000n, keyRevoked: true }, "claim key-revoked"],
  [
    "key revoked, prices unknown",
    { unclaimed: 20_000_000n, fee: undefined, keyRevoked: true },
    "claim key-revoked",
  ],
  ["key revoked, below the minimum", { unclaimed: 9_999_999n, keyRevoked: true }, "wait below-minimum"],
  ["escrow balance near what it owes", { unclaimed: 20_000_000n, headroom: 49_999_999n }, "claim escrow-low"],
  [
    "half the trust beyond a reserve spent, small amount",
    { unclaimed: 20_000_000n, trustSpent: true },
    "claim trust-spent",
  ],
  ["trust spent, below the minimum", { unclaimed: 9_999_999n, trustSpent: true }, "wait below-minimum"],
  [
    "trust spent, fee above the amount",
    { unclaimed: 20_000_000n, fee: 20_000_000n, trustSpent: true },
    "wait fee-exceeds-amount",
  ],
  ["headroom exactly the margin", { unclaimed: 20_000_000n, headroom: 50_000_000n }, "wait fee-above-target"],
  [
    "headroom unknown (not read yet)",
    { unclaimed: 20_000_000n, headroom: undefined },
    "wait fee-above-target",
  ],
  [
    "held one hour short of the maximum",
    { unclaimed: 20_000_000n, heldSince: T - 23 * HOUR },
    "wait fee-above-target",
  ],
  [
    "held the operator's maximum",
    { unclaimed: 20_000_000n, heldSince: T - 24 * HOUR },
    "claim held-too-long",
  ],
  ["owner pressed Claim now", { unclaimed: 20_000_000n, asked: true }, "claim asked"],
  ["Claim now below the minimum", { unclaimed: 5_000_000n, asked: true }, "wait below-minimum"],
  [
    "fee above the amount, even at risk",
    { unclaimed: 10_000_000n, fee: 10_000_000n, closing: true },
    "wait fee-exceeds-amount",
  ],
];

describe("settlement policy: claim when worth it or at risk, never otherwise", () => {
  it.each(table)("%s", (_name, over, expected) => {
    const d = decideClaim({ ...calm, ...over }, policy);
    expect(d.action === "nothing" ? "nothing" : `${d.action} ${d.reason}`).toBe(expected);
  });

  it("says from what amount and until when a waiting stream waits", () => {
    const d = decideClaim({ ...calm, unclaimed: 20_000_000n }, policy);
    expect(d).toEqual({
      action: "wait",
      reason: "fee-above-target",
      worthAt: 339_280_000n,
      deadline: T + 23 * HOUR,
    });
    expect(worthAt(FEE, { ...policy, feeShareBps: 50 })).toBe(678_560_000n);
    expect(shareBps(FEE, 339_280_000n)).toBe(100);
    expect(shareBps(FEE, 10_000_000n)).toBe(3_393);
  });

  it("backs off exponentially", () => {
    expect([1, 2, 3].map((a) => retryDelayMs(a, policy))).toEqual([50, 100, 200]);
  });

  it("tells refusals that retrying cannot fix from those it can", () => {
    expect(classifyRefusal(EscrowError.NothingNew, EscrowError)).toBe("paid");
    expect(classifyRefusal(EscrowError.InsufficientBalance, EscrowError)).toBe("underfunded");
    expect(classifyRefusal(EscrowError.ClaimTooSmall, EscrowError)).toBe("below-minimum");
    expect(classifyRefusal(EscrowError.BadSignature, EscrowError)).toBe("invalid");
    expect(classifyRefusal(EscrowError.WrongEscrow, EscrowError)).toBe("invalid");
    expect(classifyRefusal(-14, EscrowError)).toBe("too-costly");
    expect(classifyRefusal(undefined, EscrowError)).toBe("transient");
  });
});
