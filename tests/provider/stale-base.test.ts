import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { streamId } from "../../protocol";
import { latestReceipt } from "../../provider/receipt-store";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { ask, openSession, streamOf, until, useDevnetChain, words } from "./devnet-sessions";

/**
 * A base receipt is the requester's cumulative total on the stream, and the escrow pays each
 * stream its newest receipt less what it already paid. A base below what the escrow already paid
 * the stream (an old receipt replayed, or none: a requester that "forgot") makes every receipt up
 * to that paid total worth nothing: tokens served on them are never paid. A provider that holds no
 * newer receipt of the stream (another machine of the same payout, or a store lost) still reads
 * the paid total from the escrow, and must not serve on such a base.
 */
const chain = useDevnetChain();

describe("a base receipt below what the escrow already paid the stream", () => {
  it("is refused RECEIPT_STALE naming what the escrow paid; nothing is streamed on it", async () => {
    const first = chain.provider(new ScriptedEngine({ reply: () => words(30) }), { retryBaseMs: 50 });
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    const { session, close } = await openSession(first, r);
    const paid = await session.request(ask(3), () => undefined);
    await until(async () => {
      const record = await first.store.get(streamId(streamOf(first, r)));
      return record !== undefined && latestReceipt(record).receipt.amount === paid.cost;
    });
    close();
    await first.ton.settlement.claimNow();
    await first.ton.settlement.idle();
    await until(async () => (await r.escrow.getPaid(1, first.payout)) === paid.cost);

    // The same payout on another machine (a store of its own), and the requester with no receipt.
    const engine = new ScriptedEngine({ reply: () => words(30) });
    const second = chain.provider(engine, { retryBaseMs: 50 }, { payout: first.payout });
    const forgetful = { ...r, account: new MemoryPaymentAccount() };
    const opened = openSession(second, forgetful);
    await expect(opened).rejects.toMatchObject({
      code: "RECEIPT_STALE",
      message: expect.stringContaining("what the escrow already paid"),
    });
    expect(engine.generatedTokens).toBe(0);
    expect(await second.store.get(streamId(streamOf(second, r)))).toBeUndefined();
  }, 60_000);
});
