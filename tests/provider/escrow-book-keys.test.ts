import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowError } from "../../contracts/generated/constants";
import { EscrowBook } from "../../provider/escrow-book";
import { EscrowLimit } from "../../provider/serving/escrow-limit";
import {
  CLOSE_DELAY,
  type EscrowFixture,
  escrowAccountIn,
  freshEscrowForEachTest,
  T0,
} from "../contracts/escrow-fixture";
import { expectExternalRefused } from "../contracts/helpers";

// What a session's share of its escrow says once the requester revokes its session key, against a
// real escrow in the sandbox (its clock moved by the test): nothing more is streamed on it, during
// the key's grace and after the same key was added again under a new epoch.

let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

describe("a session on a revoked key, as the provider's book reads the escrow", () => {
  it("serves nothing more once revoked, nor once the same key is added again (a new epoch)", async () => {
    const book = new EscrowBook(() => escrowAccountIn(f), Date.now);
    const stream = f.receipt(0n).receipt;
    book.track(stream);
    await book.refresh(f.escrow.address);
    const limit = new EscrowLimit(book, stream);
    expect([limit.closing, limit.keyRevoked]).toEqual([false, false]);

    const owner = f.owner.getSender();
    await f.escrow.sendRevokeKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    await book.refresh(f.escrow.address);
    expect([limit.closing, limit.keyRevoked]).toEqual([true, true]);
    expect(book.keyDeadline(stream)).toBe(T0 + CLOSE_DELAY);

    // The grace over, the owner adds the same key again: epoch 2, and the escrow refuses epoch 1.
    f.blockchain.now = T0 + CLOSE_DELAY;
    await f.escrow.sendAddKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    expect((await f.escrow.getKey(f.key.publicKey))?.epoch).toBe(2);
    await expectExternalRefused(f.escrow.sendExternalClaim(f.receipt(toNano("1"))), EscrowError.WrongEpoch);
    await book.refresh(f.escrow.address);
    expect([limit.closing, limit.keyRevoked]).toEqual([true, true]);
    expect(book.keyDeadline(stream)).toBeLessThanOrEqual(T0 + CLOSE_DELAY);
    limit.close();
  });
});
