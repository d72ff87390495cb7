import type { BlockchainTransaction } from "@ton/sandbox";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { payableTo } from "../../provider/escrow-account";
import { type EscrowFixture, escrowAccountIn, freshEscrowForEachTest, T0 } from "./escrow-fixture";
import { expectExternalRefused, expectSuccess, firstOutValue } from "./helpers";

/**
 * Storage rent is taken in the storage phase of the escrow's next transaction, before its compute
 * phase: a claim sees the balance less the rent due since the escrow's last transaction. A
 * provider holds receipts up to what the escrow could pay when it read it (`payableTo`, balance
 * less the storage reserve); a whole receipt refused for a few thousand nanoTON of rent (there is
 * no partial payment without a reserve) would leave it owed everything since its last claim.
 */
const DAY = 86_400;

let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

function storageFeeOf(tx: BlockchainTransaction): bigint {
  return tx.description.type === "generic" ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
}

describe("Escrow claims after storage rent", () => {
  it("a receipt for all the provider read as payable is paid in full a day later, the rent from the storage reserve", async () => {
    const account = await escrowAccountIn(f);
    const all = payableTo(account, { keyEpoch: 1, payout: f.provider.address });
    expect(all).toBe(account.balance - EscrowParams.STORAGE_RESERVE);
    const signed = f.receipt(all);

    f.blockchain.now = T0 + DAY;
    const r = await f.escrow.sendExternalClaim(signed);
    const tx = expectSuccess(r.transactions, f.escrow.address);
    const rent = storageFeeOf(tx);
    expect(rent).toBeGreaterThan(0n);
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(all);
    // The payout bore the claim's fees, the storage reserve the day's rent: nothing else moved.
    const out = firstOutValue(tx);
    expect(out.value + tx.totalFees.coins - rent + out.forwardFee).toBe(all);
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE - rent);
  });

  it("the same with an internal claim", async () => {
    const account = await escrowAccountIn(f);
    const all = payableTo(account, { keyEpoch: 1, payout: f.provider.address });
    f.blockchain.now = T0 + DAY;
    const r = await f.escrow.sendClaim(f.stranger.getSender(), {
      signed: f.receipt(all),
      value: EscrowParams.MIN_CLAIM,
    });
    expectSuccess(r.transactions, f.escrow.address);
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(all);
  });

  it("still nothing past what the balance held before the rent: one nanoTON more is refused at no cost", async () => {
    const all = payableTo(await escrowAccountIn(f), { keyEpoch: 1, payout: f.provider.address });
    f.blockchain.now = T0 + DAY;
    const before = await f.balance();
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(all + 1n)),
      EscrowError.InsufficientBalance,
    );
    expect(await f.balance()).toBe(before);
  });

  it("rent beyond half the storage reserve is not added back: the escrow keeps half its reserve", async () => {
    const all = payableTo(await escrowAccountIn(f), { keyEpoch: 1, payout: f.provider.address });
    // A year idle: more rent than the whole storage reserve (about 0.02 TON).
    f.blockchain.now = T0 + 365 * DAY;
    await expectExternalRefused(f.escrow.sendExternalClaim(f.receipt(all)), EscrowError.InsufficientBalance);
    const r = await f.escrow.sendExternalClaim(f.receipt(all - 5n * EscrowParams.STORAGE_RESERVE));
    const tx = expectSuccess(r.transactions, f.escrow.address);
    expect(storageFeeOf(tx)).toBeGreaterThan(EscrowParams.STORAGE_RESERVE);
    expect(await f.balance()).toBeGreaterThanOrEqual(EscrowParams.STORAGE_RESERVE / 2n);
  });
});
