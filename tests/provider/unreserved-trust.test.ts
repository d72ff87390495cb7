import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { flatPrice } from "../../protocol";
import {
  DEFAULT_PROMPT_BOUND_TOKENS,
  LEAST_UNRESERVED_NANO,
  unreservedFloor,
} from "../../provider/serving/unreserved-floor";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { ask, DEVNET_PRICE, openSession, owedTo, useDevnetChain, words } from "./devnet-sessions";

/**
 * A requester that raises no reserve (an SDK program without `ton`, a gateway with --reserve-ahead off) against a
 * provider requiring reserves by default. It is trusted for a prompt's bound and a window beyond
 * what it has been paid; once half of that is spent the provider claims on its own, so the
 * requester keeps being served instead of refused until a week-long hold runs out.
 */
const chain = useDevnetChain();

describe("a requester raising no reserve, against a provider's default trust", () => {
  it("the default trust is never below four minimum claims, so what it trusts can be claimed", () => {
    const cheap = { model: "m", price: flatPrice(1n) };
    expect(unreservedFloor([cheap], 8)).toBe(LEAST_UNRESERVED_NANO);
    expect(unreservedFloor([{ ...cheap, price: DEVNET_PRICE }], 8)).toBe(
      BigInt(DEFAULT_PROMPT_BOUND_TOKENS + 8) * DEVNET_PRICE.nanoPerToken,
    );
  });

  it("is served question after question: the provider claims each time half its trust is spent", async () => {
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    // A 100-token model at 0.001 TON a token: trusted for 0.108 TON beyond what it was paid. The
    // fee policy alone (a claim's fee at most 1% of it) would claim nothing under about 0.5 TON.
    const p = chain.provider(
      new ScriptedEngine({ reply: () => words(5) }),
      { retryBaseMs: 50 },
      { contextWindow: 100 },
    );
    const { session, close } = await openSession(p, r);
    let cost = 0n;
    for (let i = 0; i < 16; i++) {
      const answer = await session.request(ask(2), () => undefined);
      expect(answer.finishReason).toBe("stop");
      cost += answer.cost;
      await p.ton.settlement.idle();
    }
    // Served far past what is trusted at once, and paid along the way without "Claim now".
    expect(cost).toBeGreaterThan(toNano("0.2"));
    const paid = await r.escrow.getPaid(1, p.payout);
    expect(paid).toBeGreaterThan(0n);
    expect((await owedTo(p, r)) - paid).toBeLessThan(toNano("0.108"));
    close();
  });
});
