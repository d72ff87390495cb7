import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { EscrowParams } from "../../contracts/generated/constants";
import { latestReceipt, type StreamRecord } from "../../provider/receipt-store";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  ask,
  DEVNET_PRICE,
  DEVNET_WINDOW,
  openSession,
  type ProviderSide,
  type Requester,
  recordOf,
  until,
  useDevnetChain,
  words,
} from "./devnet-sessions";

/**
 * Issue 18, money at risk, on the devnet: a provider holding receipts too small to be worth a
 * claim's fee (so it waits, as the fee policy says) is not caught out when the escrow is drained
 * under it: by a dishonest requester who stops paying, closes and withdraws; by another provider
 * claiming from the same escrow; or by the requester revoking the session key. Each time the
 * provider is paid everything it holds, read back from the chain to the nanoTON, and loses at most
 * the credit window it streamed on trust.
 */
const _PRICE = DEVNET_PRICE;
const WINDOW = DEVNET_WINDOW;
const chain = useDevnetChain();
const provider = (engine: ScriptedEngine) => chain.provider(engine);

const record = async (p: ProviderSide, r: Requester): Promise<StreamRecord> => (await recordOf(p, r))!;
/** Everything held is claimed: the escrow paid the stream its newest receipt. */
const allClaimed = async (p: ProviderSide, r: Requester) => {
  const rec = await recordOf(p, r);
  return rec !== undefined && rec.claimed > 0n && rec.claimed === latestReceipt(rec).receipt.amount;
};

/** The payout received what the escrow paid the stream, less the claims' fees, and nothing else. */
async function paidOnChain(p: ProviderSide, r: Requester, amount: bigint): Promise<void> {
  await p.ton.settlement.idle();
  expect(await r.escrow.getPaid(1, p.payout)).toBe(amount);
  const fees = ((await record(p, r)).claims ?? []).reduce((n, c) => n + c.fee, 0n);
  expect(await chain.client.getBalance(p.payout)).toBe(amount - fees);
}

describe("an escrow drained under a waiting provider, on the devnet", () => {
  it("a dishonest requester stops paying, closes and withdraws: paid all it held, lost at most the window", async () => {
    const p = provider(new ScriptedEngine({ tokenDelayMs: 5, reply: () => words(200) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 40 });
    const stop = p.ton.settlement.sweepEvery(100);
    const { session, requester: raw, close } = await openSession(p, r);
    const honest = await session.request({ ...ask(4), max_tokens: 20 }, () => undefined);
    await until(async () => latestReceipt(await record(p, r)).receipt.amount === honest.cost);
    expect((await record(p, r)).claimed).toBe(0n); // too small to be worth a fee: held

    // Then a request outside the requester's books: it streams, and never signs for it.
    let unpaidTokens = 0;
    raw.onMessage((m) => {
      if (m.t === "tokens" && m.id === "dishonest") unpaidTokens += m.count;
    });
    await raw.send({ v: 1, t: "request", id: "dishonest", ...ask(2) });
    await until(() => unpaidTokens >= WINDOW);
    // …and closes the escrow, to withdraw everything once the delay is over.
    await r.escrow.sendClose(r.send, toNano("0.05"));
    await until(() => allClaimed(p, r));
    stop();
    close();
    const rec = await record(p, r);
    expect(rec.claims?.at(-1)?.reason).toBe("escrow-closing");

    chain.now += 41;
    await r.escrow.sendWithdraw(r.send, toNano("0.05"));
    expect(await chain.client.getBalance(r.escrow.address)).toBe(EscrowParams.STORAGE_RESERVE);
    await paidOnChain(p, r, honest.cost);
    // What it streamed and was never paid for: at most the credit window.
    expect(unpaidTokens).toBeLessThanOrEqual(WINDOW);
  });

  it("another provider claims from the same escrow mid-answer: stops at what is left, paid all it streamed", async () => {
    const r = await chain.requester({ deposit: toNano("0.3"), closeDelay: 3_600 });
    const other = provider(new ScriptedEngine({ reply: () => words(150) }));
    const first = await openSession(other, r);
    const drained = await first.session.request(ask(4), () => undefined);
    await until(async () => latestReceipt(await record(other, r)).receipt.amount === drained.cost);

    const p = provider(new ScriptedEngine({ tokenDelayMs: 20, reply: () => words(400) }));
    const stop = p.ton.settlement.sweepEvery(100);
    const { session, close } = await openSession(p, r);
    let claimed: Promise<void> | undefined;
    let streamed = 0;
    const answer = await session.request(ask(2), (d) => {
      streamed += d.tokens;
      // Mid-answer, the other provider takes its share of the escrow.
      if (streamed >= 20 && !claimed) claimed = other.ton.settlement.claimNow();
    });
    await claimed;
    await other.ton.settlement.idle();
    expect(await r.escrow.getPaid(1, other.payout)).toBe(drained.cost);

    // The answer stopped at what the escrow could still pay this provider, not at what it had
    // before the other's claim; everything it streamed was receipted and is paid.
    expect(answer.finishReason).toBe("length");
    // (Its sweep may already have claimed part of it at once, seeing the escrow low.)
    const left = (await chain.client.getBalance(r.escrow.address)) - EscrowParams.STORAGE_RESERVE;
    expect(answer.cost).toBeLessThanOrEqual(left + (await r.escrow.getPaid(1, p.payout)));
    await until(async () => latestReceipt(await record(p, r)).receipt.amount === answer.cost);
    await p.ton.settlement.claimNow();
    stop();
    close();
    first.close();
    await paidOnChain(p, r, answer.cost);
  });

  it("the requester revokes its session key: claimed at once, within the key's grace; the session serves nothing more (KEY_NOT_AUTHORISED)", async () => {
    const p = provider(new ScriptedEngine());
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 40 });
    const stop = p.ton.settlement.sweepEvery(100);
    const { session, close } = await openSession(p, r);
    const answer = await session.request(ask(6), () => undefined);
    await until(async () => latestReceipt(await record(p, r)).receipt.amount === answer.cost);
    await p.ton.settlement.sweep();
    expect((await record(p, r)).claimed).toBe(0n); // held: the fee is above 1% of it

    const revokedAt = chain.now;
    await r.escrow.sendRevokeKey(r.send, { key: r.sessionKey.publicKey, value: toNano("0.05") });
    await until(() => allClaimed(p, r));
    // Its receipts are paid only until the key's grace ends: nothing more is streamed on them.
    let streamed = 0;
    const after = session.request(ask(6), (d) => {
      streamed += d.tokens;
    });
    await expect(after).rejects.toMatchObject({ code: "KEY_NOT_AUTHORISED" });
    expect(streamed).toBe(0);
    stop();
    close();
    expect((await record(p, r)).claims?.at(-1)?.reason).toBe("key-revoked");
    // The key's receipts are refused one close delay after the revocation: it was claimed before.
    expect(chain.now).toBeLessThan(revokedAt + 40);
    await paidOnChain(p, r, answer.cost);
  });
});
