import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { NETWORK_ID } from "../../protocol";
import {
  AccountRefusedError,
  accountGate,
  type EscrowFacts,
  type EscrowRules,
  judgeEscrow,
} from "../../provider/account-gate";

const base = {
  network: NETWORK_ID.devnet,
  escrow: Address.parse(`0:${"11".repeat(32)}`),
  payout: Address.parse(`0:${"22".repeat(32)}`),
  keyEpoch: 3,
  tokens: 100n,
  amount: 5_000n,
};
const CODE = "ab".repeat(32);
const rules: EscrowRules = { codeHash: CODE, minCloseDelay: 3_600, minimum: 10_000n };
const good: EscrowFacts = {
  codeHash: CODE,
  network: NETWORK_ID.devnet,
  closeDelay: 3_600,
  unlockAt: 0,
  key: { epoch: 3, active: true },
  available: 1_000_000n,
  paid: 0n,
};

function refusal(facts: Partial<EscrowFacts>) {
  try {
    judgeEscrow(base, { ...good, ...facts }, rules);
    return "accepted";
  } catch (err) {
    return err instanceof AccountRefusedError ? err.code : "crash";
  }
}

describe("the escrow check before serving", () => {
  it("accepts a funded escrow with the key authorised at the receipt's epoch", () => {
    expect(refusal({})).toBe("accepted");
    expect(refusal({ closeDelay: 86_400 })).toBe("accepted");
  });
  it("judges the code before anything the account says about itself", () => {
    // An impostor answering like an Escrow on another network and closing is refused for its code.
    expect(refusal({ codeHash: "00".repeat(32), network: 1, unlockAt: 5 })).toBe("ESCROW_CODE");
  });
  it("names each reason to refuse", () => {
    expect(refusal({ network: NETWORK_ID.testnet })).toBe("ESCROW_NETWORK");
    expect(refusal({ unlockAt: 1_800_000_000 })).toBe("ESCROW_CLOSING");
    expect(refusal({ codeHash: "cd".repeat(32) })).toBe("ESCROW_CODE");
    expect(refusal({ codeHash: "" })).toBe("ESCROW_CODE"); // nothing deployed there
    expect(refusal({ closeDelay: 3_599 })).toBe("ESCROW_CLOSE_DELAY");
    expect(refusal({ closeDelay: 1 })).toBe("ESCROW_CLOSE_DELAY");
    expect(refusal({ key: undefined })).toBe("KEY_NOT_AUTHORISED");
    expect(refusal({ key: { epoch: 3, active: false } })).toBe("KEY_NOT_AUTHORISED");
    expect(refusal({ key: { epoch: 2, active: true } })).toBe("KEY_EPOCH");
    expect(refusal({ available: 9_999n })).toBe("OUT_OF_FUNDS");
  });
  it("serves an escrow holding reserves less deep: every claim on it takes a dearer path", () => {
    const deep = { ...rules, maxClaimDepth: 6 };
    const judge = (facts: Partial<EscrowFacts>) => {
      try {
        judgeEscrow(base, { ...good, ...facts }, deep);
        return "accepted";
      } catch (err) {
        return err instanceof AccountRefusedError ? err.code : "crash";
      }
    };
    expect(judge({ claimDepth: 6 })).toBe("accepted");
    expect(judge({ claimDepth: 2, reserving: true })).toBe("accepted");
    expect(judge({ claimDepth: 3, reserving: true })).toBe("ESCROW_CROWDED");
  });
  it("counts what the base receipt already owes this stream against the balance", () => {
    // 5 000 owed and unpaid, 14 000 available: 9 000 left is below the 10 000 minimum.
    expect(refusal({ available: 14_000n })).toBe("OUT_OF_FUNDS");
    expect(refusal({ available: 14_000n, paid: 5_000n })).toBe("accepted");
  });
  it("turns an unreachable chain into a clear refusal", async () => {
    const gate = accountGate(async () => {
      throw new Error("connect ECONNREFUSED");
    }, rules);
    await expect(gate.check(base, new Uint8Array(32))).rejects.toMatchObject({ code: "ESCROW_UNREACHABLE" });
  });
});
