import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { NETWORK_ID } from "../../protocol";
import { AccountRefusedError, accountGate, type EscrowFacts, judgeEscrow } from "../../provider/account-gate";

const base = {
  network: NETWORK_ID.devnet,
  escrow: Address.parse(`0:${"11".repeat(32)}`),
  payout: Address.parse(`0:${"22".repeat(32)}`),
  keyEpoch: 3,
  tokens: 100n,
  amount: 5_000n,
};
const good: EscrowFacts = {
  network: NETWORK_ID.devnet,
  closing: false,
  key: { epoch: 3, active: true },
  available: 1_000_000n,
  paid: 0n,
};

function refusal(facts: Partial<EscrowFacts>, minimum = 10_000n) {
  try {
    judgeEscrow(base, { ...good, ...facts }, minimum);
    return "accepted";
  } catch (err) {
    return err instanceof AccountRefusedError ? err.code : "crash";
  }
}

describe("the escrow check before serving", () => {
  it("accepts a funded escrow with the key authorised at the receipt's epoch", () => {
    expect(refusal({})).toBe("accepted");
  });
  it("names each reason to refuse", () => {
    expect(refusal({ network: NETWORK_ID.testnet })).toBe("ESCROW_NETWORK");
    expect(refusal({ closing: true })).toBe("ESCROW_CLOSING");
    expect(refusal({ key: undefined })).toBe("KEY_NOT_AUTHORISED");
    expect(refusal({ key: { epoch: 3, active: false } })).toBe("KEY_NOT_AUTHORISED");
    expect(refusal({ key: { epoch: 2, active: true } })).toBe("KEY_EPOCH");
    expect(refusal({ available: 9_999n })).toBe("OUT_OF_FUNDS");
  });
  it("counts what the base receipt already owes this stream against the balance", () => {
    // 5 000 owed and unpaid, 14 000 available: 9 000 left is below the 10 000 minimum.
    expect(refusal({ available: 14_000n })).toBe("OUT_OF_FUNDS");
    expect(refusal({ available: 14_000n, paid: 5_000n })).toBe("accepted");
  });
  it("turns an unreachable chain into a clear refusal", async () => {
    const gate = accountGate(async () => {
      throw new Error("connect ECONNREFUSED");
    }, 1n);
    await expect(gate.check(base, new Uint8Array(32))).rejects.toMatchObject({ code: "ESCROW_UNREACHABLE" });
  });
});
