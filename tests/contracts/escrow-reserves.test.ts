import { type Address, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { generateKeyPair, type KeyPair } from "../../protocol/identity";
import { NETWORK_ID } from "../../protocol/receipt";
import type { Reserve, SignedReserve } from "../../protocol/reserve";
import {
  CLOSE_DELAY,
  type EscrowFixture,
  escrowAccountIn,
  freshEscrowForEachTest,
  T0,
} from "./escrow-fixture";
import { computeOf, expectExternalRefused, expectSuccess, firstOutValue } from "./helpers";

// Per-stream reserves: a requester signing to several providers at once moves money of its
// escrow's free balance into each provider's stream, so no provider's claim can take what is
// reserved for another, whatever order they claim in.

const RESERVE = EscrowParams.STORAGE_RESERVE;
let f: EscrowFixture;
let other: Address;
freshEscrowForEachTest(
  (fixture) => {
    f = fixture;
  },
  async (fixture) => {
    other = (await fixture.blockchain.treasury("other-provider")).address;
  },
);

const raise = (reserved: bigint, over?: Partial<Reserve>, signer?: KeyPair): SignedReserve =>
  f.reserve(reserved, over, signer);

/** Asserts a raise is refused before acceptance: the escrow's balance does not move. */
async function refused(signed: SignedReserve, code: number): Promise<void> {
  const before = await f.balance();
  await expectExternalRefused(f.escrow.sendReserve(signed), code);
  expect(await f.balance()).toBe(before);
}

/** An external claim that must succeed, paying exactly `delta`: payout plus every fee. */
async function claimExactly(amount: bigint, delta: bigint, payout: Address = f.provider.address) {
  const before = await f.balance();
  const r = await f.escrow.sendExternalClaim(f.receipt(amount, { payout }));
  const tx = expectSuccess(r.transactions, f.escrow.address);
  const out = firstOutValue(tx);
  expect(before - (await f.balance())).toBe(delta);
  expect(out.value + tx.totalFees.coins + out.forwardFee).toBe(delta);
  expect(computeOf(tx).gasUsed).toBeLessThan(10_000n); // it fitted the external gas credit
}

describe("Escrow reserves: raising", () => {
  it("a raise locks free balance for one stream; the escrow pays only the raise's own fees", async () => {
    const before = await f.balance();
    const r = await f.escrow.sendReserve(raise(toNano("3")));
    const tx = expectSuccess(r.transactions, f.escrow.address);
    expect(before - (await f.balance())).toBe(tx.totalFees.coins);
    expect(tx.totalFees.coins).toBeLessThan(toNano("0.005"));
    expect(computeOf(tx).gasUsed).toBeLessThanOrEqual(EscrowParams.RESERVE_GAS_LIMIT);
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({
      reserved: toNano("3"),
      locked: toNano("3"),
    });
    expect(await f.escrow.getReserve(1, other)).toEqual({ reserved: 0n, locked: toNano("3") });
    // The provider reads the same from the account's data.
    const state = (await escrowAccountIn(f)).state!;
    expect(state.reservedOf(1, f.provider.address)).toBe(toNano("3"));
    expect(state.locked).toBe(toNano("3"));

    // Raises are cumulative: the next one adds only the difference.
    await f.escrow.sendReserve(raise(toNano("4")));
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({
      reserved: toNano("4"),
      locked: toNano("4"),
    });
  });

  it("refuses, at no cost, a replayed raise, an older one, and one not above what was paid", async () => {
    const signed = raise(toNano("3"));
    await f.escrow.sendReserve(signed);
    await refused(signed, EscrowError.ReserveNotRaised);
    await refused(raise(toNano("2")), EscrowError.ReserveNotRaised);
    // A stream paid 1 TON without a reserve: a raise to 1 TON or less would lock nothing.
    await claimExactly(toNano("1"), toNano("1"), other);
    await refused(raise(toNano("1"), { payout: other }), EscrowError.ReserveNotRaised);
    // Above it, only the part beyond what was paid is locked.
    await f.escrow.sendReserve(raise(toNano("1.5"), { payout: other }));
    expect((await f.escrow.getReserve(1, other)).locked).toBe(toNano("3.5"));
  });

  it("refuses, at no cost, a raise the free balance cannot fund, alone or beside another stream's", async () => {
    const free = (await f.balance()) - RESERVE;
    await refused(raise(free), EscrowError.ReserveUnfunded);
    await f.escrow.sendReserve(raise(toNano("6")));
    await refused(raise(free - toNano("6"), { payout: other }), EscrowError.ReserveUnfunded);
    // What is still free can be reserved for the other stream.
    await f.escrow.sendReserve(raise(free - toNano("6.01"), { payout: other }));
    expect((await f.escrow.getReserve(1, other)).locked).toBe(free - toNano("0.01"));
  });

  it("refuses, at no cost, raises that are forged, misbound, expired or from a dead key", async () => {
    const forged = raise(toNano("1"));
    await refused(
      { ...forged, reserve: { ...forged.reserve, reserved: toNano("5") } },
      EscrowError.BadSignature,
    );
    await refused(raise(toNano("1"), { network: NETWORK_ID.testnet }), EscrowError.WrongNetwork);
    await refused(raise(toNano("1"), { escrow: other }), EscrowError.WrongEscrow);
    await refused(raise(toNano("1"), {}, generateKeyPair()), EscrowError.UnknownKey);
    await refused(raise(toNano("1"), { keyEpoch: 2 }), EscrowError.WrongEpoch);
    await refused(raise(toNano("1"), { validUntil: T0 - 1 }), EscrowError.ReserveExpired);
    await f.escrow.sendRevokeKey(f.owner.getSender(), { key: f.key.publicKey, value: toNano("0.05") });
    f.blockchain.now = T0 + CLOSE_DELAY;
    await refused(raise(toNano("1"), { validUntil: T0 + CLOSE_DELAY + 60 }), EscrowError.KeyExpired);
  });
});

describe("Escrow reserves: claims", () => {
  it("no other stream's claim can take a reserve, and the reserve is paid whoever claims first", async () => {
    const free = (await f.balance()) - RESERVE;
    await f.escrow.sendReserve(raise(toNano("6")));
    const afterRaise = (await f.balance()) - RESERVE - toNano("6"); // free once the raise's fees are paid
    expect(afterRaise).toBeLessThan(free - toNano("6"));
    // The other provider was signed more than is free: it is refused, at no cost...
    const before = await f.balance();
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(afterRaise + toNano("0.01"), { payout: other })),
      EscrowError.InsufficientBalance,
    );
    expect(await f.balance()).toBe(before);
    // ...and can take all that is free, which leaves the reserve whole.
    await claimExactly(afterRaise, afterRaise, other);
    expect((await f.escrow.getReserve(1, other)).locked).toBe(toNano("6"));
    // The reserved stream claims all of its reserve, to the nanoTON, from an escrow with nothing free.
    await claimExactly(toNano("6"), toNano("6"));
    expect(await f.balance()).toBe(RESERVE);
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({ reserved: toNano("6"), locked: 0n });
  });

  it("a receipt beyond the reserve pays the reserve and what is free; it stays claimable for the rest", async () => {
    await f.escrow.sendReserve(raise(toNano("6")));
    const free = (await f.balance()) - RESERVE - toNano("6");
    await claimExactly(free - toNano("1"), free - toNano("1"), other);
    // 8 TON signed, 6 reserved, 1 free: it pays 7 and records 7.
    await claimExactly(toNano("8"), toNano("7"));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("7"));
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({ reserved: toNano("6"), locked: 0n });
    // Nothing is locked any more, so the plain rule refuses it now, at no cost...
    await expectExternalRefused(
      f.escrow.sendExternalClaim(f.receipt(toNano("8"))),
      EscrowError.InsufficientBalance,
    );
    // ...until the requester deposits: the same receipt then pays the rest.
    await f.escrow.sendDeposit(f.owner.getSender(), toNano("2"));
    await claimExactly(toNano("8"), toNano("1"));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("8"));
  });

  it("claims against reserves stay exact for a stream in the dictionary and for a newer key's stream", async () => {
    await claimExactly(toNano("1"), toNano("1")); // the provider's stream takes the hot slot
    await f.escrow.sendReserve(raise(toNano("2"), { payout: other }));
    await f.escrow.sendReserve(raise(toNano("3")));
    // The other stream is not hot: its claim walks the paid dictionary.
    await claimExactly(toNano("1.5"), toNano("1.5"), other);
    await claimExactly(toNano("2"), toNano("0.5"), other);
    expect(await f.escrow.getPaid(1, other)).toBe(toNano("2"));
    expect((await f.escrow.getReserve(1, other)).locked).toBe(toNano("2")); // 3 - 1 for the provider
    // A newer key's stream takes the slot; the one it displaces keeps its paid total and reserve.
    const second = generateKeyPair();
    await f.escrow.sendAddKey(f.owner.getSender(), { key: second.publicKey, value: toNano("0.05") });
    await f.escrow.sendReserve(raise(toNano("1"), { keyEpoch: 2 }, second));
    const before = await f.balance();
    await f.escrow.sendExternalClaim(f.receipt(toNano("0.5"), { keyEpoch: 2 }, second));
    expect(before - (await f.balance())).toBe(toNano("0.5"));
    expect(await f.escrow.getPaid(2, f.provider.address)).toBe(toNano("0.5"));
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1"));
    await claimExactly(toNano("3"), toNano("2"));
    expect((await f.escrow.getReserve(2, f.provider.address)).locked).toBe(toNano("0.5"));
  });

  it("an internal claim takes the same reserve rules", async () => {
    await f.escrow.sendReserve(raise(toNano("6")));
    const free = (await f.balance()) - RESERVE - toNano("6");
    const r = await f.escrow.sendClaim(f.stranger.getSender(), {
      signed: f.receipt(free + toNano("1"), { payout: other }),
      value: toNano("0.05"),
    });
    expect(
      computeOf(
        r.transactions.find((t) => t.inMessage?.info.dest?.toString() === f.escrow.address.toString())!,
      ).exitCode,
    ).toBe(EscrowError.InsufficientBalance);
    const before = await f.balance();
    await f.escrow.sendClaim(f.stranger.getSender(), {
      signed: f.receipt(toNano("6")),
      value: toNano("0.05"),
    });
    expect(before - (await f.balance())).toBe(toNano("6"));
  });
});

describe("Escrow reserves: close and withdraw", () => {
  it("closing stops raises, claims go on; after the delay the owner takes everything and reserves end", async () => {
    await refused(raise(toNano("3"), { validUntil: T0 + CLOSE_DELAY }), EscrowError.ReserveExpired);
    const signed = raise(toNano("3"), { validUntil: T0 + CLOSE_DELAY - 1 });
    await f.escrow.sendReserve(signed);
    await f.escrow.sendClose(f.owner.getSender(), toNano("0.05"));
    await refused(raise(toNano("4")), EscrowError.Closing);
    await claimExactly(toNano("2"), toNano("2"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    const r = await f.escrow.sendWithdraw(f.owner.getSender(), toNano("0.05"));
    expectSuccess(r.transactions, f.escrow.address);
    expect(await f.balance()).toBe(RESERVE);
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({ reserved: 0n, locked: 0n });
    // Reopened and funded again, nothing stale holds its balance back...
    await f.escrow.sendReopen(f.owner.getSender(), toNano("0.05"));
    await f.escrow.sendDeposit(f.owner.getSender(), toNano("1"));
    await claimExactly(toNano("0.5"), toNano("0.5"), other);
    // ...and the old raise cannot lock it again: it expired before the withdraw was possible.
    await refused(signed, EscrowError.ReserveExpired);
    // A new raise counts from what the stream was paid (2 TON): 2.3 locks 0.3.
    await f.escrow.sendReserve(raise(toNano("2.3"), { validUntil: T0 + CLOSE_DELAY + 60 }));
    expect(await f.escrow.getReserve(1, f.provider.address)).toEqual({
      reserved: toNano("2.3"),
      locked: toNano("0.3"),
    });
  });
});
