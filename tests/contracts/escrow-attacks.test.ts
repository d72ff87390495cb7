import { type Address, beginCell, type Cell, external, toNano } from "@ton/core";
import type { BlockchainTransaction } from "@ton/sandbox";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { decodeSignedReceipt, encodeSignedReceipt, MAX_COINS, NETWORK_ID, RECEIPT_TAG } from "../../protocol";
import { sign } from "../../protocol/identity";
import { CLOSE_DELAY, type EscrowFixture, freshEscrowForEachTest, T0 } from "./escrow-fixture";
import { computeOf, expectExit, expectExternalRefused, expectSuccess, firstOutValue } from "./helpers";

/**
 * What a hostile party would try against a funded escrow, beyond the refusals of single receipts
 * (escrow-refusals.test.ts): gas exhaustion, races between a claim and a withdraw, payout
 * addresses the receipt layout does not allow, the largest amounts, front-running a provider's
 * claim. Each either pays exactly what the requester signed or changes nothing.
 */
let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

/** A receipt cell with `payout` written as raw bits (any MsgAddress), signed by the fixture's key. */
function signedWithPayoutBits(payoutBits: (b: ReturnType<typeof beginCell>) => void, amount: bigint): Cell {
  const receipt = beginCell()
    .storeUint(RECEIPT_TAG, 32)
    .storeInt(NETWORK_ID.devnet, 32)
    .storeAddress(f.escrow.address);
  payoutBits(receipt);
  const cell = receipt.storeUint(1, 32).storeUint(1000, 64).storeCoins(amount).endCell();
  return beginCell()
    .storeBuffer(Buffer.from(sign(f.key.secretKey, cell.hash())), 64)
    .storeBuffer(Buffer.from(f.key.publicKey), 32)
    .storeRef(cell)
    .endCell();
}

const hashOf = (a: Address) => a.hash;

function rentOf(tx: BlockchainTransaction): bigint {
  if (tx.description.type !== "generic") return 0n;
  return tx.description.storagePhase?.storageFeesCollected ?? 0n;
}

describe("Escrow under attack", () => {
  it("an internal claim that runs out of gas changes nothing, and the same receipt pays in full later", async () => {
    const signed = f.receipt(toNano("1"));
    const before = await f.balance();
    // 0.001 TON buys 2,500 gas: less than a claim's checks need.
    const r = await f.escrow.sendClaim(f.stranger.getSender(), { signed, value: toNano("0.001") });
    const tx = r.transactions.find((t) => computeOf(t).exitCode === -14 || computeOf(t).exitCode === 13);
    expect(tx, "the claim's transaction ran out of gas").toBeDefined();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(0n);
    expect(await f.balance()).toBeGreaterThanOrEqual(before);

    const paid = await f.escrow.sendExternalClaim(signed);
    expectSuccess(paid.transactions, f.escrow.address);
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1"));
    expect(before - (await f.balance())).toBe(toNano("1"));
  });

  it("a withdraw that lands before a claim leaves the claim refused at no cost, never half paid", async () => {
    const owner = f.owner.getSender();
    await f.escrow.sendClose(owner, toNano("0.05"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    expectSuccess((await f.escrow.sendWithdraw(owner, toNano("0.05"))).transactions, f.escrow.address);
    const left = await f.balance();
    expect(left).toBe(EscrowParams.STORAGE_RESERVE);
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(toNano("1"))),
      EscrowError.InsufficientBalance,
    );
    expect(await f.balance()).toBe(left);
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(0n);
  });

  it("a claim that lands before the withdraw is paid in full; the owner gets only the rest", async () => {
    const owner = f.owner.getSender();
    await f.escrow.sendClose(owner, toNano("0.05"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    const before = await f.balance();
    const claim = expectSuccess(
      (await f.escrow.sendExternalClaim(f.receipt(toNano("4")))).transactions,
      f.escrow.address,
    );
    // An hour passed: the escrow's own rent for it is the only thing it paid besides the receipt.
    expect(before - (await f.balance()) - rentOf(claim)).toBe(toNano("4"));
    const r = await f.escrow.sendWithdraw(owner, toNano("0.05"));
    expectSuccess(r.transactions, f.escrow.address);
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE);
    // The paid receipt is dead after the withdraw: replaying it pays nothing.
    await expectExternalRefused(f.escrow.sendExternalClaim(f.receipt(toNano("4"))), EscrowError.NothingNew);
  });

  it("close, reopen and close again cannot shorten the delay: every close starts a whole one", async () => {
    const owner = f.owner.getSender();
    await f.escrow.sendClose(owner, toNano("0.05"));
    f.blockchain.now = T0 + 100;
    await f.escrow.sendReopen(owner, toNano("0.05"));
    f.blockchain.now = T0 + 200;
    await f.escrow.sendClose(owner, toNano("0.05"));
    expect((await f.escrow.getEscrowData()).unlockAt).toBe(T0 + 200 + CLOSE_DELAY);
    f.blockchain.now = T0 + CLOSE_DELAY;
    const r = await f.escrow.sendWithdraw(owner, toNano("0.05"));
    expectExit(r.transactions, f.escrow.address, EscrowError.StillLocked);
  });

  it.each([
    ["addr_none", (b: ReturnType<typeof beginCell>) => b.storeUint(0, 2)],
    [
      "anycast",
      (b: ReturnType<typeof beginCell>) =>
        b
          .storeUint(2, 2)
          .storeBit(1)
          .storeUint(5, 5)
          .storeUint(0, 5)
          .storeInt(0, 8)
          .storeBuffer(hashOf(f.provider.address)),
    ],
    [
      "addr_var",
      (b: ReturnType<typeof beginCell>) =>
        b
          .storeUint(3, 2)
          .storeBit(0)
          .storeUint(256, 9)
          .storeInt(0, 32)
          .storeBuffer(hashOf(f.provider.address)),
    ],
  ] as const)(
    "a receipt whose payout is %s: refused before it is accepted, and by the provider",
    async (_, payout) => {
      const body = signedWithPayoutBits(payout, toNano("1"));
      const before = await f.balance();
      const err = await f.blockchain.sendMessage(external({ to: f.escrow.address, body })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, "the claim must not be accepted").toBeDefined();
      expect(await f.balance()).toBe(before);
      // The provider never takes it either: it is not a receipt as protocol/receipt.ts lays one out.
      expect(() => decodeSignedReceipt(body.toBoc().toString("base64"))).toThrow();
    },
  );

  it("the largest amount a receipt can carry is refused as more than the balance, at no cost", async () => {
    const before = await f.balance();
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(MAX_COINS, { tokens: 2n ** 64n - 1n })),
      EscrowError.InsufficientBalance,
    );
    expect(await f.balance()).toBe(before);
    // And a receipt just over the balance, a nanoTON past what it can pay and keep its reserve.
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(before - EscrowParams.STORAGE_RESERVE + 1n)),
      EscrowError.InsufficientBalance,
    );
  });

  it("a front-runner submitting an older receipt first only splits the provider's pay in two claims", async () => {
    const older = f.receipt(toNano("1"));
    const newer = f.receipt(toNano("3"));
    // The provider's copy travels as text: what it would broadcast, and a watcher could copy.
    const copied = decodeSignedReceipt(encodeSignedReceipt(older));
    const before = await f.balance();
    const providerBefore = await f.balance(f.provider.address);
    const first = await f.escrow.sendExternalClaim(copied);
    const second = await f.escrow.sendExternalClaim(newer);
    const outs = [first, second].map((r) => firstOutValue(expectSuccess(r.transactions, f.escrow.address)));
    // The escrow paid exactly the newest total, all of it towards the provider's payout.
    expect(before - (await f.balance())).toBe(toNano("3"));
    for (const out of outs) expect(out.dest.equals(f.provider.address)).toBe(true);
    expect((await f.balance(f.provider.address)) - providerBefore).toBeGreaterThan(
      toNano("3") - toNano("0.01"),
    );
    await expectExternalRefused(f.escrow.sendExternalClaim(older), EscrowError.NothingNew);
  });

  it("an internal claim's bounce of a refused receipt keeps nothing of the claimant's value but the gas", async () => {
    const before = await f.balance();
    const r = await f.escrow.sendClaim(f.stranger.getSender(), {
      signed: f.receipt(toNano("1"), { network: NETWORK_ID.mainnet }),
      value: toNano("0.5"),
    });
    expectExit(r.transactions, f.escrow.address, EscrowError.WrongNetwork);
    expect(await f.balance()).toBe(before);
  });
});
