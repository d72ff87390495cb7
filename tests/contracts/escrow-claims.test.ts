import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { type EscrowFixture, freshEscrowForEachTest } from "./escrow-fixture";
import { computeOf, expectExternalRefused, expectSuccess, firstOutValue, txOn } from "./helpers";

let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

describe("Escrow claims", () => {
  it("an external claim pays the difference; the payout bears every fee, the escrow none", async () => {
    const escrowBefore = await f.balance();
    const providerBefore = await f.balance(f.provider.address);
    const amount = toNano("1.5");
    const r = await f.escrow.sendExternalClaim(f.receipt(amount));
    const tx = expectSuccess(r.transactions, f.escrow.address);
    const out = firstOutValue(tx);
    expect(out.dest.equals(f.provider.address)).toBe(true);

    // The escrow is down by exactly the receipt's amount...
    expect(escrowBefore - (await f.balance())).toBe(amount);
    // ...which went into the payout message and this transaction's fees, to the nanoTON.
    expect(out.value + tx.totalFees.coins + out.forwardFee).toBe(amount);
    // The provider's wallet received the message value, less its own receive fee.
    const providerTx = txOn(r.transactions, f.provider.address);
    expect((await f.balance(f.provider.address)) - providerBefore).toBe(
      out.value - providerTx.totalFees.coins,
    );
    // All fees of the claim, paid out of the payout: under 0.004 TON.
    expect(amount - out.value).toBeLessThan(toNano("0.004"));
    expect(computeOf(tx).gasUsed).toBeLessThanOrEqual(EscrowParams.CLAIM_GAS_LIMIT);

    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(amount);
  });

  it("pays only what is new: cumulative receipts settle the difference", async () => {
    await f.escrow.sendExternalClaim(f.receipt(toNano("1")));
    const before = await f.balance();
    await f.escrow.sendExternalClaim(f.receipt(toNano("1.25")));
    expect(before - (await f.balance())).toBe(toNano("0.25"));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1.25"));
  });

  it("an internal claim: the sender's value pays the gas and the rest goes to the payout", async () => {
    const escrowBefore = await f.balance();
    const amount = toNano("2");
    const value = toNano("0.05");
    const r = await f.escrow.sendClaim(f.stranger.getSender(), { signed: f.receipt(amount), value });
    const tx = expectSuccess(r.transactions, f.escrow.address);
    const out = firstOutValue(tx);
    expect(out.dest.equals(f.provider.address)).toBe(true);
    expect(escrowBefore - (await f.balance())).toBe(amount);
    expect(out.value + tx.totalFees.coins + out.forwardFee).toBe(amount + value);
  });

  it("keeps separate streams per payout address and per key epoch", async () => {
    const other = await f.blockchain.treasury("other-provider");
    await f.escrow.sendExternalClaim(f.receipt(toNano("1")));
    await f.escrow.sendExternalClaim(f.receipt(toNano("0.5"), { payout: other.address }));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1"));
    expect(await f.escrow.getPaid(1, other.address)).toBe(toNano("0.5"));

    const second = (await import("../../protocol/identity")).generateKeyPair();
    await f.escrow.sendAddKey(f.owner.getSender(), { key: second.publicKey, value: toNano("0.05") });
    expect(await f.escrow.getKey(second.publicKey)).toEqual({
      epoch: 2,
      validUntil: Number(EscrowParams.KEY_ACTIVE),
    });
    // The new key starts its own cumulative count from zero towards the same provider.
    await f.escrow.sendExternalClaim(f.receipt(toNano("0.3"), { keyEpoch: 2 }, second));
    expect(await f.escrow.getPaid(2, f.provider.address)).toBe(toNano("0.3"));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1"));
  });

  it("a claim may take the balance down to the storage reserve, not below", async () => {
    const balance = await f.balance();
    const all = balance - EscrowParams.STORAGE_RESERVE;
    await f.escrow.sendExternalClaim(f.receipt(all));
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE);
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(all + EscrowParams.MIN_CLAIM)),
      EscrowError.InsufficientBalance,
    );
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE);
  });

  it("the terms it reports are the ones generated from its source", async () => {
    expect(await f.escrow.getClaimTerms()).toEqual({
      minClaim: EscrowParams.MIN_CLAIM,
      storageReserve: EscrowParams.STORAGE_RESERVE,
      claimGasLimit: EscrowParams.CLAIM_GAS_LIMIT,
    });
  });
});
