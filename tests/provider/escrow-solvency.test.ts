import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { EscrowParams } from "../../contracts/generated/constants";
import {
  encodeSignedReceipt,
  maxPromptTokens,
  NETWORK_ID,
  type SignedReceipt,
  signReceipt,
  streamId,
} from "../../protocol";
import { latestReceipt, payableReceipt } from "../../provider/receipt-store";
import type { ServingEvent } from "../../provider/serving/session-server";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  ask,
  claimsOn,
  DEVNET_PRICE,
  impostorEscrow,
  openSession,
  type ProviderSide,
  type Requester,
  streamOf,
  until,
  useDevnetChain,
  words,
} from "./devnet-sessions";

/**
 * Issue 13, the provider's side, on the devnet: an escrow never owes the provider more than it can
 * pay. A receipt above its means, an escrow that runs dry mid-answer, a short close delay, other
 * code at the escrow's address, an escrow closed mid-session: each refused, or settled with the
 * honest part paid, read back from the chain to the nanoTON.
 */
const PRICE = DEVNET_PRICE;
const chain = useDevnetChain();
const provider = (engine?: ScriptedEngine) => chain.provider(engine, { retryBaseMs: 50 });

/** A short question (its prompt bound is counted before the first token) with a long answer. */
const long = () => new ScriptedEngine({ reply: () => words(400) });

/** The escrow paid the stream exactly `amount`, and the payout got it less the claims' fees. */
async function paidExactly(p: ProviderSide, r: Requester, amount: bigint): Promise<void> {
  await p.ton.settlement.idle();
  expect(await r.escrow.getPaid(1, p.payout)).toBe(amount);
  const claims = await claimsOn(chain.client, r.escrow.address);
  expect(claims.paid).toBe(amount);
  expect(await chain.client.getBalance(p.payout)).toBe(amount - claims.fees);
}

describe("never owed more than the escrow can pay, on the devnet", () => {
  it("refuses a receipt above what the escrow can pay, keeps it beside the honest one, and is paid the honest part", async () => {
    const p = provider();
    const r = await chain.requester({ deposit: toNano("0.3"), closeDelay: 3_600 });
    const events: ServingEvent[] = [];
    const { session, requester: raw } = await openSession(p, r, events);
    const honest = await session.request(ask(6), () => undefined);
    const stream = streamOf(p, r);
    const id = streamId(stream);
    await until(
      async () =>
        (await p.store.get(id)) !== undefined &&
        latestReceipt((await p.store.get(id))!).receipt.amount === honest.cost,
    );

    // 50 TON for the same tokens, on a 0.3 TON escrow.
    const forged: SignedReceipt = signReceipt(
      { ...stream, tokens: latestReceipt((await p.store.get(id))!).receipt.tokens, amount: toNano("50") },
      r.sessionKey,
    );
    await raw.send({ v: 1, t: "receipt", receipt: encodeSignedReceipt(forged) });
    await until(() => events.some((e) => e.type === "refused" && e.code === "ESCROW_CANNOT_PAY"));
    const record = (await p.store.get(id))!;
    expect(latestReceipt(record).receipt.amount).toBe(toNano("50"));
    expect(payableReceipt(record).receipt.amount).toBe(honest.cost);
    // No more answers on it.
    await expect(session.request(ask(3), () => undefined)).rejects.toBeInstanceOf(ProviderError);

    await p.ton.settlement.claimNow();
    await paidExactly(p, r, honest.cost);
  });

  it("stops an answer before the escrow runs dry, and is paid every token it streamed", async () => {
    const p = provider(long());
    const r = await chain.requester({ deposit: toNano("0.1"), closeDelay: 3_600 });
    const available = (await chain.client.getBalance(r.escrow.address)) - EscrowParams.STORAGE_RESERVE;
    const { session } = await openSession(p, r);
    let streamed = 0;
    const answer = await session.request(ask(2), (d) => {
      streamed += d.tokens;
    });
    expect(answer.finishReason).toBe("length");
    expect(answer.completionTokens).toBe(streamed);
    expect(streamed).toBeLessThan(400);
    expect(answer.cost).toBeLessThanOrEqual(available);
    // It stopped at the escrow's means, not before: what is left is under one token plus the part
    // of the prompt's bound (reserved before the first token) that the prompt did not use.
    const unusedPromptBound = BigInt(maxPromptTokens(ask(2)) - answer.promptTokens);
    expect(available - answer.cost).toBeLessThan(PRICE.nanoPerToken * (unusedPromptBound + 1n));
    const id = streamId(streamOf(p, r));
    await until(async () => latestReceipt((await p.store.get(id))!).receipt.amount === answer.cost);

    // A new session on the dry escrow is refused before a token, saying why.
    const again = await openSession(p, r);
    await expect(again.session.request(ask(2), () => undefined)).rejects.toMatchObject({
      code: "ESCROW_CANNOT_PAY",
    });
    await p.ton.settlement.claimNow();
    await paidExactly(p, r, answer.cost);
  });

  it("two answers at once: each counts the other's prompt at its bound, so both together stay within the escrow", async () => {
    // Each prompt is billed at its bound (the most a requester signs for), each answer long.
    const bound = maxPromptTokens(ask(2));
    const p = provider(new ScriptedEngine({ tokenDelayMs: 5, promptTokens: bound, reply: () => words(400) }));
    const r = await chain.requester({ deposit: toNano("0.2"), closeDelay: 3_600 });
    const available = (await chain.client.getBalance(r.escrow.address)) - EscrowParams.STORAGE_RESERVE;
    const events: ServingEvent[] = [];
    const { session } = await openSession(p, r, events);
    const [a, b] = await Promise.all([
      session.request(ask(2), () => undefined),
      session.request(ask(2), () => undefined),
    ]);
    expect([a.finishReason, b.finishReason]).toEqual(["length", "length"]);
    expect(a.promptTokens + b.promptTokens).toBe(2 * bound);
    // Never owed more than the escrow can pay: the second prompt was counted while the first streamed.
    expect(a.cost + b.cost).toBeLessThanOrEqual(available);
    const id = streamId(streamOf(p, r));
    await until(async () => latestReceipt((await p.store.get(id))!).receipt.amount === a.cost + b.cost);
    expect(events.filter((e) => e.type === "refused")).toEqual([]);
    await p.ton.settlement.claimNow();
    await paidExactly(p, r, a.cost + b.cost);
  });

  it("refuses an escrow whose close delay leaves no time to claim", async () => {
    const p = provider();
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 5 });
    await expect(openSession(p, r)).rejects.toMatchObject({ code: "ESCROW_CLOSE_DELAY" });
    expect(await p.store.list()).toEqual([]);
  });

  it("refuses a contract with other code at the escrow's address, though it answers every getter the same", async () => {
    const p = provider();
    const r = await impostorEscrow(chain.devnet, chain.client, {
      deposit: toNano("1"),
      closeDelay: 3_600,
      code: chain.code,
    });
    expect(await r.escrow.getEscrowData()).toMatchObject({
      network: NETWORK_ID.devnet,
      closeDelay: 3_600,
      unlockAt: 0,
    });
    expect((await r.escrow.getKey(r.sessionKey.publicKey))?.epoch).toBe(1);
    await expect(openSession(p, r)).rejects.toMatchObject({ code: "ESCROW_CODE" });
    expect(await p.store.list()).toEqual([]);
  });

  it("sees an escrow start closing mid-answer, stops, and claims everything within the close delay", async () => {
    const p = provider(new ScriptedEngine({ tokenDelayMs: 25, reply: () => words(400) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 40 });
    const stop = p.ton.settlement.sweepEvery(200);
    const { session } = await openSession(p, r);
    let closed = false;
    const answer = await session
      .request(ask(2), () => {
        if (!closed) {
          closed = true;
          void r.escrow.sendClose(r.send, toNano("0.05"));
        }
      })
      .catch((err: unknown) => err);
    const closingAt = chain.now;
    const stream = streamOf(p, r);
    const id = streamId(stream);
    await until(async () => {
      const record = await p.store.get(id);
      return (
        record !== undefined && record.claimed > 0n && record.claimed === latestReceipt(record).receipt.amount
      );
    });
    stop();
    const record = (await p.store.get(id))!;
    expect(answer).not.toBeInstanceOf(Error);
    expect((answer as { finishReason: string }).finishReason).toBe("length");
    expect((answer as { completionTokens: number }).completionTokens).toBeLessThan(400);
    expect(record.claims?.some((c) => c.reason === "escrow-closing")).toBe(true);
    const held = latestReceipt(record).receipt.amount;
    expect(held).toBe((answer as { cost: bigint }).cost);
    expect(chain.now).toBeLessThan(closingAt + 40); // claimed well within the delay

    // The owner withdraws the rest after the delay: the provider had everything it streamed.
    chain.now += 41;
    await r.escrow.sendWithdraw(r.send, toNano("0.05"));
    expect(await chain.client.getBalance(r.escrow.address)).toBe(EscrowParams.STORAGE_RESERVE);
    await paidExactly(p, r, held);
  });
});
