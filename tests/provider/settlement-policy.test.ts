import { describe, expect, it } from "vitest";
import { EscrowError } from "../../contracts/generated/constants";
import {
  classifyRefusal,
  decideClaim,
  retryDelayMs,
  type SettlementPolicy,
} from "../../provider/settlement-policy";

const policy: SettlementPolicy = {
  thresholdNano: 1_000n,
  minClaimNano: 100n,
  maxAttempts: 3,
  retryBaseMs: 50,
};

describe("settlement policy", () => {
  it("claims when the unclaimed value passes the threshold, or at session end if worth a claim", () => {
    expect(decideClaim(999n, 0n, false, policy)).toBe("wait");
    expect(decideClaim(1_000n, 0n, false, policy)).toBe("claim");
    expect(decideClaim(1_500n, 600n, false, policy)).toBe("wait");
    expect(decideClaim(150n, 0n, true, policy)).toBe("claim");
    expect(decideClaim(99n, 0n, true, policy)).toBe("wait");
    expect(decideClaim(500n, 500n, true, policy)).toBe("nothing");
    expect(decideClaim(400n, 500n, true, policy)).toBe("nothing");
  });

  it("backs off exponentially", () => {
    expect([1, 2, 3].map((a) => retryDelayMs(a, policy))).toEqual([50, 100, 200]);
  });

  it("tells refusals that retrying cannot fix from those it can", () => {
    expect(classifyRefusal(EscrowError.NothingNew, EscrowError)).toBe("paid");
    expect(classifyRefusal(EscrowError.InsufficientBalance, EscrowError)).toBe("underfunded");
    expect(classifyRefusal(EscrowError.BadSignature, EscrowError)).toBe("invalid");
    expect(classifyRefusal(EscrowError.WrongEscrow, EscrowError)).toBe("invalid");
    expect(classifyRefusal(-14, EscrowError)).toBe("too-costly");
    expect(classifyRefusal(undefined, EscrowError)).toBe("transient");
  });
});
