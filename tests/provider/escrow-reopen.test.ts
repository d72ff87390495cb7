import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowBook } from "../../provider/escrow-book";
import { EscrowLimit } from "../../provider/serving/escrow-limit";
import { type EscrowFixture, escrowAccountIn, freshEscrowForEachTest } from "../contracts/escrow-fixture";

/**
 * A session kept open while its escrow closed and was reopened by a deposit: the next request is
 * judged on a fresh read, not refused ESCROW_CLOSING on the read that saw it closing (the web
 * client asked after "Deposit and reopen" on such a session and was refused).
 */
describe("a session across its escrow's close and reopen", () => {
  let f: EscrowFixture;
  freshEscrowForEachTest((fixture) => {
    f = fixture;
  });

  const bookOf = (clock: { t: number }) =>
    new EscrowBook(
      () => escrowAccountIn(f),
      () => clock.t,
    );

  it("is closing while closing, and not once the owner has reopened it", async () => {
    const clock = { t: 1_000_000 };
    const book = bookOf(clock);
    const stream = f.receipt(0n).receipt;
    book.track(stream);
    await book.refresh(f.escrow.address);
    const limit = new EscrowLimit(book, { ...stream, amount: 0n }, () => clock.t, 1_000);
    expect(limit.closing).toBe(false);

    const owner = f.owner.getSender();
    await f.escrow.sendClose(owner, toNano("0.05"));
    clock.t += 5_000;
    expect(await limit.closingNow()).toBe(false); // not read since: no reason to read again
    await book.refresh(f.escrow.address);
    expect(limit.closing).toBe(true);
    clock.t += 5_000;
    expect(await limit.closingNow()).toBe(true); // read again: still closing

    await f.escrow.sendReopen(owner, toNano("1"));
    expect(limit.closing).toBe(true); // the last read is stale…
    clock.t += 5_000;
    expect(await limit.closingNow()).toBe(false); // …and a new request reads again before refusing
  });
});
