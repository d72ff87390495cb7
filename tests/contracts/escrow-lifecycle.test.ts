import { beginCell, toNano } from "@ton/core";
import { internal } from "@ton/sandbox";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID } from "../../protocol/receipt";
import { CLOSE_DELAY, type EscrowFixture, freshEscrowForEachTest, T0 } from "./escrow-fixture";
import { expectExit, expectExternalRefused, expectSuccess, firstOutValue, txOn } from "./helpers";

const KEY_ACTIVE = Number(EscrowParams.KEY_ACTIVE);
let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

describe("Escrow lifecycle", () => {
  it("is deployed at its deterministic address with the config it was made from", async () => {
    expect(await f.escrow.getEscrowData()).toMatchObject({
      network: NETWORK_ID.devnet,
      closeDelay: CLOSE_DELAY,
      unlockAt: 0,
      nextEpoch: 2,
    });
    expect((await f.escrow.getEscrowData()).owner.equals(f.owner.address)).toBe(true);
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 1, validUntil: KEY_ACTIVE });
    expect(await f.escrow.getKey(generateKeyPair().publicKey)).toBeUndefined();
  });

  it("takes deposits and top-ups from anyone, with or without a body", async () => {
    let before = await f.balance();
    let r = await f.escrow.sendDeposit(f.stranger.getSender(), toNano("3"));
    let tx = expectSuccess(r.transactions, f.escrow.address);
    expect((await f.balance()) - before).toBe(toNano("3") - tx.totalFees.coins);
    before = await f.balance();
    r = await f.stranger.send({ to: f.escrow.address, value: toNano("2") });
    tx = expectSuccess(r.transactions, f.escrow.address);
    expect((await f.balance()) - before).toBe(toNano("2") - tx.totalFees.coins);
  });

  it("keeps a stray bounce's value", async () => {
    const before = await f.balance();
    const r = await f.blockchain.sendMessage(
      internal({
        from: f.stranger.address,
        to: f.escrow.address,
        value: toNano("1"),
        bounced: true,
        body: beginCell().storeUint(0xffffffff, 32).endCell(),
      }),
    );
    const tx = expectSuccess(r.transactions, f.escrow.address);
    expect((await f.balance()) - before).toBe(toNano("1") - tx.totalFees.coins);
  });

  it("a revoked key's receipts stay claimable for one close delay, then are refused", async () => {
    const signed = f.receipt(toNano("1"));
    await f.escrow.sendRevokeKey(f.owner.getSender(), { key: f.key.publicKey, value: toNano("0.05") });
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 1, validUntil: T0 + CLOSE_DELAY });
    f.blockchain.now = T0 + CLOSE_DELAY - 1;
    await f.escrow.sendExternalClaim(signed);
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    const before = await f.balance();
    await expectExternalRefused(f.escrow.sendExternalClaim(f.receipt(toNano("2"))), EscrowError.KeyExpired);
    expect(await f.balance()).toBe(before);
  });

  it("revoking and re-adding a key cannot cut short the grace, nor revive its old receipts", async () => {
    const owner = f.owner.getSender();
    await f.escrow.sendRevokeKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    let r = await f.escrow.sendRevokeKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    expectExit(r.transactions, f.escrow.address, EscrowError.KeyExpired);
    r = await f.escrow.sendAddKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    expectExit(r.transactions, f.escrow.address, EscrowError.KeyExists);

    f.blockchain.now = T0 + CLOSE_DELAY;
    r = await f.escrow.sendAddKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    expectSuccess(r.transactions, f.escrow.address);
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 2, validUntil: KEY_ACTIVE });
    await expectExternalRefused(f.escrow.sendExternalClaim(f.receipt(toNano("1"))), EscrowError.WrongEpoch);
    await f.escrow.sendExternalClaim(f.receipt(toNano("1"), { keyEpoch: 2 }));
    expect(await f.escrow.getPaid(2, f.provider.address)).toBe(toNano("1"));
  });

  it("close starts the delay: providers still claim, the owner withdraws only after it", async () => {
    const owner = f.owner.getSender();
    let r = await f.escrow.sendWithdraw(owner, toNano("0.05"));
    expectExit(r.transactions, f.escrow.address, EscrowError.NotClosing);

    await f.escrow.sendClose(owner, toNano("0.05"));
    expect((await f.escrow.getEscrowData()).unlockAt).toBe(T0 + CLOSE_DELAY);
    r = await f.escrow.sendClose(owner, toNano("0.05"));
    expectExit(r.transactions, f.escrow.address, EscrowError.AlreadyClosing);
    r = await f.escrow.sendAddKey(owner, { key: generateKeyPair().publicKey, value: toNano("0.05") });
    expectExit(r.transactions, f.escrow.address, EscrowError.Closing);

    f.blockchain.now = T0 + CLOSE_DELAY - 1;
    r = await f.escrow.sendWithdraw(owner, toNano("0.05"));
    expectExit(r.transactions, f.escrow.address, EscrowError.StillLocked);
    await f.escrow.sendExternalClaim(f.receipt(toNano("2")));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("2"));

    f.blockchain.now = T0 + CLOSE_DELAY;
    const ownerBefore = await f.balance(f.owner.address);
    const escrowBefore = await f.balance();
    r = await f.escrow.sendWithdraw(owner, toNano("0.05"));
    const tx = expectSuccess(r.transactions, f.escrow.address);
    // Everything but the storage reserve went back to the owner.
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE);
    const out = firstOutValue(tx);
    expect(out.dest.equals(f.owner.address)).toBe(true);
    expect(out.value + tx.totalFees.coins + out.forwardFee).toBe(
      escrowBefore + toNano("0.05") - EscrowParams.STORAGE_RESERVE,
    );
    const ownerTx = txOn(r.transactions, f.owner.address, f.escrow.address);
    expect((await f.balance(f.owner.address)) - ownerBefore).toBe(
      out.value -
        ownerTx.totalFees.coins -
        toNano("0.05") -
        r.transactions[0]!.totalFees.coins -
        firstOutValue(r.transactions[0]!).forwardFee,
    );
  });

  it("after a withdraw, paid receipts stay paid and a reopen lets the owner fund it again", async () => {
    const owner = f.owner.getSender();
    const signed = f.receipt(toNano("1"));
    await f.escrow.sendExternalClaim(signed);
    await f.escrow.sendClose(owner, toNano("0.05"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    await f.escrow.sendWithdraw(owner, toNano("0.05"));
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(toNano("2"))),
      EscrowError.InsufficientBalance,
    );

    let r = await f.escrow.sendReopen(owner, toNano("5"));
    expectSuccess(r.transactions, f.escrow.address);
    expect((await f.escrow.getEscrowData()).unlockAt).toBe(0);
    r = await f.escrow.sendReopen(owner, toNano("0.05"));
    expectExit(r.transactions, f.escrow.address, EscrowError.NotClosing);
    await expectExternalRefused(f.escrow.sendExternalClaim(signed), EscrowError.NothingNew);
    await f.escrow.sendExternalClaim(f.receipt(toNano("2")));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("2"));
  });
});
