import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { escrowReserveChain, ReserveNotSeenError } from "../../client/sdk/reserve-keeper";
import type { ServingEvent } from "../../provider/serving/session-server";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  ask,
  type DevnetSession,
  openSession,
  owedTo,
  type ProviderSide,
  type Requester,
  raiseReserve,
  until,
  useDevnetChain,
  words,
} from "./devnet-sessions";

/**
 * One requester, two providers at once, on the devnet. Each provider checks its receipts against
 * the escrow, but cannot see what the requester signed to the other, and the escrow pays whoever
 * claims first: without reserves, both serve up to the whole balance and the second to claim is
 * owed what cannot be paid. With reserves required, each serves its stream's reserve plus one
 * credit window's worth on trust, so the two can never be owed more than the escrow holds, and
 * each is paid everything it holds, read back from the chain.
 */
const chain = useDevnetChain();
const TRUST = toNano("0.01"); // 10 tokens at DEVNET_PRICE: what a provider serves beyond a reserve
const provider = (tokenDelayMs = 0) =>
  chain.provider(
    new ScriptedEngine({ tokenDelayMs, reply: () => words(400) }),
    { retryBaseMs: 50 },
    { unreservedNano: TRUST },
  );

const reserve = (r: Requester, p: ProviderSide, amount: bigint) => raiseReserve(r, p, amount, chain.now);

/**
 * `a` and `b` each answer a 400-token question at once, each stopping at what it trusts
 * (`limitA`, `limitB`): then each is paid everything it holds, B claiming first.
 */
async function bothServedAndPaid(
  r: Requester,
  [a, sa]: [ProviderSide, DevnetSession],
  [b, sb]: [ProviderSide, DevnetSession],
  [limitA, limitB]: [bigint, bigint],
): Promise<void> {
  const [answerA, answerB] = await Promise.all([
    sa.session.request(ask(2), () => undefined),
    sb.session.request(ask(2), () => undefined),
  ]);
  // Each stopped where what it trusts ends (its prompt counted at its bound, 50 tokens, until the
  // answer ends, so it stops sooner)...
  expect(answerA.finishReason).toBe("length");
  expect(answerB.finishReason).toBe("length");
  expect(answerA.cost).toBeLessThanOrEqual(limitA);
  expect(answerB.cost).toBeLessThanOrEqual(limitB);
  await until(async () => (await owedTo(a, r)) === answerA.cost && (await owedTo(b, r)) === answerB.cost);
  // ...and whatever the order they claim in, each is paid all it holds.
  await b.ton.settlement.claimNow();
  await a.ton.settlement.claimNow();
  await a.ton.settlement.idle();
  await b.ton.settlement.idle();
  expect(await r.escrow.getPaid(1, b.payout)).toBe(await owedTo(b, r));
  expect(await r.escrow.getPaid(1, a.payout)).toBe(await owedTo(a, r));
}

describe("a requester signing to two providers at once, on the devnet", () => {
  it("with reserves required, neither is ever owed what the escrow cannot pay", async () => {
    // 0.13 TON: the reserves and both trusted windows fit (0.05 + 0.045 + 2 x 0.01, and the raises'
    // fees), the two answers asked for (0.8 TON) do not.
    const r = await chain.requester({ deposit: toNano("0.13"), closeDelay: 3_600 });
    const a = provider();
    const b = provider();
    await reserve(r, a, toNano("0.05"));
    await reserve(r, b, toNano("0.045")); // a prompt's bound (50 tokens) and a little more

    const eventsA: ServingEvent[] = [];
    const eventsB: ServingEvent[] = [];
    const sa = await openSession(a, r, eventsA);
    const sb = await openSession(b, r, eventsB);
    // Both answers run at once, each asked for 400 tokens (0.4 TON: three times the escrow).
    await bothServedAndPaid(r, [a, sa], [b, sb], [toNano("0.05") + TRUST, toNano("0.045") + TRUST]);
    // Each says why, by name, when asked for more.
    for (const s of [sa, sb]) {
      const refusal = await s.session.request(ask(2), () => undefined).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(ProviderError);
      expect((refusal as ProviderError).code).toBe("ESCROW_CANNOT_PAY");
      expect((refusal as ProviderError).message).toMatch(/reserve/);
      // These sessions keep no reserve of their own (a program without `ton`): the error says what to pass.
      expect((refusal as ProviderError).message).toMatch(
        /raises no reserve of its own: .*connect\(\{ ton: new TonClient\(\{ endpoint \}\) \}\)/,
      );
    }
    sa.close();
    sb.close();
  });

  it("by default (no option set) both require reserves: each trusts a prompt's bound and a window, and is paid all of it", async () => {
    // 0.3 TON, no reserve raised (an old requester). Each provider's model holds 100 tokens, so each
    // trusts 108 tokens (0.108 TON) beyond a reserve by default: together less than the escrow.
    // Trusting the whole free balance instead, each would serve nearly 0.3 TON.
    const r = await chain.requester({ deposit: toNano("0.3"), closeDelay: 3_600 });
    const engine = () => new ScriptedEngine({ reply: () => words(400) });
    const a = chain.provider(engine(), { retryBaseMs: 50 }, { contextWindow: 100 });
    const b = chain.provider(engine(), { retryBaseMs: 50 }, { contextWindow: 100 });
    const floor = toNano("0.108");
    const sa = await openSession(a, r);
    const sb = await openSession(b, r);
    await bothServedAndPaid(r, [a, sa], [b, sb], [floor, floor]);
    sa.close();
    sb.close();
  });

  it("opting out (whole-balance) trusts the free balance as before reserves", async () => {
    const r = await chain.requester({ deposit: toNano("0.3"), closeDelay: 3_600 });
    const a = chain.provider(
      new ScriptedEngine({ reply: () => words(400) }),
      { retryBaseMs: 50 },
      { contextWindow: 100, unreservedNano: "whole-balance" },
    );
    expect(a.ton.book.reservesRequired).toBe(false);
    const { session, close } = await openSession(a, r);
    const answer = await session.request(ask(2), () => undefined);
    expect(answer.cost).toBeGreaterThan(toNano("0.2"));
    close();
  });

  it("the SDK keeps the reserve ahead of what it signs: served past the first window, all paid", async () => {
    const r = await chain.requester({ deposit: toNano("0.5"), closeDelay: 3_600 });
    const a = provider(10);
    const reserveChain = escrowReserveChain((address) => chain.client.provider(address));
    // 0.06 TON ahead of what is owed (the SDK counts each open answer's prompt bound in that).
    const reserve = { chain: reserveChain, ahead: toNano("0.06"), pollMs: 50, now: () => chain.now };
    const { session, close } = await openSession(a, r, [], reserve);
    const answer = await session.request({ ...ask(2), max_tokens: 200 }, () => undefined);
    // Without raises the provider would have stopped at TRUST; the SDK raised as the cost grew.
    expect(answer.completionTokens).toBe(200);
    expect(answer.cost).toBeGreaterThan(toNano("0.2"));
    expect((await r.escrow.getReserve(1, a.payout)).reserved).toBeGreaterThanOrEqual(answer.cost);
    await until(async () => (await owedTo(a, r)) === answer.cost);
    await a.ton.settlement.claimNow();
    await a.ton.settlement.idle();
    expect(await r.escrow.getPaid(1, a.payout)).toBe(answer.cost);
    close();
  });

  it("a raise not seen on chain in time fails the session's opening with a typed error, nothing streamed", async () => {
    const r = await chain.requester({ deposit: toNano("0.5"), closeDelay: 3_600 });
    const a = provider(10);
    const real = escrowReserveChain((address) => chain.client.provider(address));
    // A chain link that loses every raise (sent nowhere), so none is ever seen.
    const lossy = { send: async () => undefined, reserved: real.reserved };
    const reserve = { chain: lossy, ahead: toNano("0.06"), pollMs: 50, deadlineMs: 300 };
    // The keeper covers what is signed before the account opens: the base receipt waits for it.
    const err = await openSession(a, r, [], reserve).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReserveNotSeenError);
    expect((err as ReserveNotSeenError).code).toBe("TIMEOUT");
    expect((err as ReserveNotSeenError).reason).toBe("not-seen");
    expect((err as Error).message).toMatch(/not seen on chain within 300 ms/);
    expect(await owedTo(a, r)).toBe(0n); // nothing was asked of the provider, nothing is owed
  });
});
