import { beginCell, external, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { externalClaimBody } from "../../contracts/wrappers/escrow";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID, type SignedReceipt } from "../../protocol/receipt";
import { type EscrowFixture, freshEscrowForEachTest } from "./escrow-fixture";
import { expectExit, expectExternalRefused } from "./helpers";

/**
 * Every refused receipt, external and internal: the escrow's balance stays exactly what it was,
 * so it paid no gas for any of them.
 */
let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

async function refusedBoth(signed: SignedReceipt, code: number): Promise<void> {
  const before = await f.balance();
  await expectExternalRefused(f.escrow.sendExternalClaim(signed), code);
  expect(await f.balance()).toBe(before);
  const r = await f.escrow.sendClaim(f.provider.getSender(), { signed, value: toNano("0.05") });
  expectExit(r.transactions, f.escrow.address, code);
  expect(await f.balance()).toBe(before);
}

describe("Escrow refuses, at no cost to itself", () => {
  it("a forged signature", async () => {
    const good = f.receipt(toNano("1"));
    const forged = { ...good, signature: f.receipt(toNano("2")).signature };
    await refusedBoth(forged, EscrowError.BadSignature);
  });

  it("a receipt whose payout was changed after signing", async () => {
    const good = f.receipt(toNano("1"));
    await refusedBoth(
      { ...good, receipt: { ...good.receipt, payout: f.stranger.address } },
      EscrowError.BadSignature,
    );
  });

  it("a receipt for another network", async () => {
    await refusedBoth(f.receipt(toNano("1"), { network: NETWORK_ID.testnet }), EscrowError.WrongNetwork);
    await refusedBoth(f.receipt(toNano("1"), { network: NETWORK_ID.mainnet }), EscrowError.WrongNetwork);
  });

  it("a receipt bound to another escrow", async () => {
    await refusedBoth(f.receipt(toNano("1"), { escrow: f.stranger.address }), EscrowError.WrongEscrow);
  });

  it("a receipt signed by a key never authorised", async () => {
    await refusedBoth(f.receipt(toNano("1"), {}, generateKeyPair()), EscrowError.UnknownKey);
  });

  it("a receipt for another epoch of the key", async () => {
    await refusedBoth(f.receipt(toNano("1"), { keyEpoch: 2 }), EscrowError.WrongEpoch);
  });

  it("a replayed receipt and an older one, after a newer was paid", async () => {
    const older = f.receipt(toNano("1"));
    const newer = f.receipt(toNano("2"));
    await f.escrow.sendExternalClaim(newer);
    await refusedBoth(newer, EscrowError.NothingNew);
    await refusedBoth(older, EscrowError.NothingNew);
  });

  it("a claim below the minimum claim", async () => {
    await refusedBoth(f.receipt(EscrowParams.MIN_CLAIM - 1n), EscrowError.ClaimTooSmall);
    await f.escrow.sendExternalClaim(f.receipt(toNano("1")));
    await refusedBoth(f.receipt(toNano("1") + EscrowParams.MIN_CLAIM - 1n), EscrowError.ClaimTooSmall);
  });

  it("a receipt for more than the balance (less the storage reserve)", async () => {
    const balance = await f.balance();
    await refusedBoth(
      f.receipt(balance - EscrowParams.STORAGE_RESERVE + 1n),
      EscrowError.InsufficientBalance,
    );
    await refusedBoth(f.receipt(toNano("1000")), EscrowError.InsufficientBalance);
  });

  it("a cell that is not a receipt", async () => {
    const good = f.receipt(toNano("1"));
    const notReceipt = beginCell().storeUint(0xdeadbeef, 32).endCell();
    const body = beginCell()
      .storeBuffer(Buffer.from(good.signature), 64)
      .storeBuffer(Buffer.from(good.sessionKey), 32)
      .storeRef(notReceipt)
      .endCell();
    const before = await f.balance();
    await expectExternalRefused(
      f.blockchain.sendMessage(external({ to: f.escrow.address, body })),
      EscrowError.BadReceipt,
    );
    expect(await f.balance()).toBe(before);
  });

  // A StateInit would raise the import fee the escrow pays; the validator itself refuses an
  // external message with one for an active account, before any code runs.
  it("an external claim carrying a StateInit", async () => {
    const good = f.receipt(toNano("1"));
    const init = {
      code: beginCell().storeUint(1, 1000).endCell(),
      data: beginCell().storeUint(2, 1000).endCell(),
    };
    const msg = external({ to: f.escrow.address, body: externalClaimBody(good), init });
    const before = await f.balance();
    await expectExternalRefused(f.blockchain.sendMessage(msg), 0);
    expect(await f.balance()).toBe(before);
  });

  it("owner operations from anyone else", async () => {
    const s = f.stranger.getSender();
    const before = await f.balance();
    for (const r of [
      await f.escrow.sendAddKey(s, { key: generateKeyPair().publicKey, value: toNano("0.05") }),
      await f.escrow.sendRevokeKey(s, { key: f.key.publicKey, value: toNano("0.05") }),
      await f.escrow.sendClose(s, toNano("0.05")),
      await f.escrow.sendReopen(s, toNano("0.05")),
      await f.escrow.sendWithdraw(s, toNano("0.05")),
    ]) {
      expectExit(r.transactions, f.escrow.address, EscrowError.NotOwner);
    }
    expect(await f.balance()).toBe(before);
  });

  it("a message it does not understand", async () => {
    const r = await f.stranger.send({
      to: f.escrow.address,
      value: toNano("0.05"),
      body: beginCell().storeUint(0x12345678, 32).endCell(),
    });
    expectExit(r.transactions, f.escrow.address, EscrowError.UnknownOp);
  });
});
