import { type Address, toNano } from "@ton/core";
import type { BlockchainTransaction } from "@ton/sandbox";
import { loadConfigParamById } from "@ton/ton";
import { describe, expect, it } from "vitest";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair } from "../../protocol/identity";
import type { SignedReceipt } from "../../protocol/receipt";
import {
  type ChainPrices,
  CLAIM_GAS,
  type ClaimPath,
  chainPricesOf,
  claimFee,
  claimGas,
} from "../../provider/claim-fee";
import { EscrowBook } from "../../provider/escrow-book";
import { type EscrowFixture, escrowAccountIn, freshEscrowForEachTest } from "../contracts/escrow-fixture";
import { computeOf, expectSuccess } from "../contracts/helpers";

/**
 * The fee settlement expects for a claim is what the chain charges: the gas of each claim path,
 * measured here on the Escrow compiled from source (a contract change that moves it fails this
 * test), and the fee from the chain's own config, equal to the nanoTON to what the transaction cost.
 */
let f: EscrowFixture;
let prices: ChainPrices;
freshEscrowForEachTest((fixture) => {
  f = fixture;
  const config = f.blockchain.configBase64;
  prices = chainPricesOf(loadConfigParamById(config, 21), loadConfigParamById(config, 25));
});

/** Sends the claim; returns its gas and every fee it cost (the transaction's and the payout's forward fee). */
async function claim(signed: SignedReceipt): Promise<{ gas: bigint; fee: bigint }> {
  const r = await f.escrow.sendExternalClaim(signed);
  const tx: BlockchainTransaction = expectSuccess(r.transactions, f.escrow.address);
  const out = tx.outMessages.get(0);
  const forward = out?.info.type === "internal" ? out.info.forwardFee : 0n;
  return { gas: computeOf(tx).gasUsed, fee: tx.totalFees.coins + forward };
}

async function expectPath(signed: SignedReceipt, path: ClaimPath, entries = 1): Promise<void> {
  const expected = claimFee(signed, path, prices, entries);
  const paid = await claim(signed);
  expect(paid.gas, `gas of the ${path} path`).toBe(CLAIM_GAS[path]);
  expect(paid.fee, `fee of the ${path} path`).toBe(expected);
}

describe("the expected fee of a claim, against the chain", () => {
  it("is exact on every claim path, for any amount", async () => {
    await expectPath(f.receipt(toNano("1")), "escrowFirst");
    await expectPath(f.receipt(toNano("1.5")), "hot");
    await expectPath(f.receipt(toNano("3.123456789")), "hot");
    const other = await f.blockchain.treasury("other-provider");
    await expectPath(f.receipt(toNano("0.5"), { payout: other.address }), "newStream", 0);
  });

  it("is exact off the hot slot as measured, and never under-estimates a deeper dictionary", async () => {
    // A newer key's stream takes the slot; the older key's stream and key are then both read
    // from their dictionaries (one entry each): the dearest path measured, exact.
    await claim(f.receipt(toNano("1")));
    const newer = generateKeyPair();
    await f.escrow.sendAddKey(f.owner.getSender(), { key: newer.publicKey, value: toNano("0.05") });
    await claim(f.receipt(toNano("0.5"), { keyEpoch: 2 }, newer));
    await expectPath(f.receipt(toNano("2")), "cold", 1);
    // A second provider's stream joins the dictionary: two entries, one doubling more.
    const other = await f.blockchain.treasury("other-provider");
    await claim(f.receipt(toNano("0.5"), { payout: other.address }));
    const next = f.receipt(toNano("3"));
    const expected = claimFee(next, "cold", prices, 2);
    const paid = await claim(next);
    expect(paid.gas).toBeLessThanOrEqual(claimGas("cold", 2));
    expect(paid.fee).toBeLessThanOrEqual(expected);
    expect(expected - paid.fee).toBeLessThan(toNano("0.0003")); // within 100 gas of the truth
  });

  it("never under-estimates a claim while the escrow holds a reserve", async () => {
    const reserve = (payout: Address, reserved: bigint) =>
      f.escrow.sendReserve(f.reserve(reserved, { payout }));
    const other = (await f.blockchain.treasury("other-provider")).address;
    await reserve(other, toNano("2"));
    for (const [signed, path, entries] of [
      [f.receipt(toNano("1")), "escrowFirst", 0],
      [f.receipt(toNano("1.5")), "hot", 0],
      [f.receipt(toNano("0.5"), { payout: other }), "newStream", 1],
      [f.receipt(toNano("1"), { payout: other }), "cold", 1],
    ] as const) {
      const paid = await claim(signed);
      expect(paid.gas, path).toBeGreaterThan(claimGas(path, entries));
      expect(paid.gas, path).toBeLessThanOrEqual(claimGas(path, entries, true));
      expect(paid.fee, path).toBeLessThanOrEqual(claimFee(signed, path, prices, entries, true));
    }
  });

  it("picks the path from one read of the escrow's account", async () => {
    const read = () => escrowAccountIn(f);
    const book = new EscrowBook(async () => read());
    const stream = f.receipt(1n).receipt;
    book.track(stream);
    await book.refresh(f.escrow.address);
    expect(book.claimPathOf(stream).path).toBe("escrowFirst");
    await claim(f.receipt(toNano("1")));
    await book.refresh(f.escrow.address);
    expect(book.claimPathOf(stream).path).toBe("hot");
    const otherStream = { ...stream, keyEpoch: 1, payout: (await f.blockchain.treasury("x")).address };
    book.track(otherStream);
    await book.refresh(f.escrow.address);
    expect(book.claimPathOf(otherStream).path).toBe("newStream");
    expect(Escrow.createFromAddress(f.escrow.address).address.equals(f.escrow.address)).toBe(true);
  });
});
