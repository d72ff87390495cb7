import { type Address, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { availableOf } from "../../provider/escrow-account";
import { EscrowBook } from "../../provider/escrow-book";
import { type EscrowFixture, escrowAccountIn, freshEscrowForEachTest } from "../contracts/escrow-fixture";

// What the provider's book counts as payable on an escrow that holds reserves, against a real
// escrow in the sandbox: another stream's reserve is never payable to this one, its own reserve
// always is, and with reserves required the free balance is trusted only up to `unreserved`.

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

async function reserve(payout: Address, reserved: bigint): Promise<void> {
  await f.escrow.sendReserve(f.reserve(reserved, { payout }));
}

async function bookOn(unreserved?: bigint) {
  const book = new EscrowBook(() => escrowAccountIn(f), Date.now, {
    ...(unreserved !== undefined && { unreserved }),
  });
  const stream = f.receipt(0n).receipt;
  book.track(stream);
  await book.refresh(f.escrow.address);
  return { book, stream };
}

describe("the escrow book with reserves", () => {
  it("counts the free balance and this stream's own reserve, never another stream's", async () => {
    const plain = await bookOn();
    const available = availableOf(await f.balance());
    expect(plain.book.limit(plain.stream)).toBe(available); // no reserves: the old rule

    await reserve(other, toNano("4"));
    const { book, stream } = await bookOn();
    const free = availableOf(await f.balance()) - toNano("4");
    expect(book.limit(stream)).toBe(free);

    await reserve(f.provider.address, toNano("2"));
    const mine = await bookOn();
    // 2 reserved for this stream, the rest free: the same total, but 2 of it safe from others.
    expect(mine.book.limit(mine.stream)).toBe(availableOf(await f.balance()) - toNano("4"));
  });

  it("with reserves required, trusts the free balance only up to `unreserved`, and stays right after its own claim", async () => {
    await reserve(other, toNano("4"));
    await reserve(f.provider.address, toNano("2"));
    const { book, stream } = await bookOn(toNano("0.5"));
    expect(book.limit(stream)).toBe(toNano("2.5"));
    expect(book.reservesRequired).toBe(true);

    // Its own claim of 1.5, paid from its reserve: recorded at once, and the same as a fresh read.
    await f.escrow.sendExternalClaim(f.receipt(toNano("1.5")));
    book.paidChanged(stream, toNano("1.5"));
    expect(book.limit(stream)).toBe(toNano("2.5"));
    const fresh = await bookOn(toNano("0.5"));
    expect(fresh.book.limit(fresh.stream)).toBe(toNano("2.5"));
    expect((await escrowAccountIn(f)).state!.locked).toBe(toNano("4.5"));
  });

  it("with reserves required, a stream owed half of its trust beyond its reserve is due a claim (trust-spent)", async () => {
    await reserve(f.provider.address, toNano("2"));
    const { book, stream } = await bookOn(toNano("0.5"));
    book.held(stream, toNano("2.249"));
    expect(book.trustSpent(stream)).toBe(false); // 0.249 beyond the reserve
    book.held(stream, toNano("2.25"));
    expect(book.trustSpent(stream)).toBe(true); // half of the 0.5 trusted
    // Paid from its reserve and beyond: the trust is whole again.
    await f.escrow.sendExternalClaim(f.receipt(toNano("2.25")));
    book.paidChanged(stream, toNano("2.25"));
    expect(book.trustSpent(stream)).toBe(false);
    // Not required: the whole free balance is trusted, nothing is ever "spent".
    const plain = await bookOn();
    plain.book.held(plain.stream, toNano("3"));
    expect(plain.book.trustSpent(plain.stream)).toBe(false);
  });
});
