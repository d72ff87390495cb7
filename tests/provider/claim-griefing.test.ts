import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import type { StreamKey } from "../../protocol";
import { EscrowBook } from "../../provider/escrow-book";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import {
  type ClaimRecord,
  FOREIGN_CLAIM_REASON,
  latestReceipt,
  MemoryReceiptStore,
} from "../../provider/receipt-store";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  ask,
  openSession,
  type ProviderSide,
  type Requester,
  recordOf,
  until,
  useDevnetChain,
  words,
} from "./devnet-sessions";

/**
 * Claim-fee griefing, on the devnet: anyone holding a receipt may claim it, and each claim's fee
 * comes out of the provider's payout. A requester that claims the provider's small receipts itself
 * makes the provider pay a fee per claim (about 0.0034 TON), where the provider's own policy would
 * wait until the fee is 1% of the claim. The provider sees its stream's paid total rise without a
 * claim of its own and, the second time, stops serving that escrow with `FOREIGN_CLAIMS`: at the
 * next session's account, and at the next request of a session already open. Its own claims, and
 * a read racing its own claim, never count. Each one counted is kept with the stream's receipts,
 * so a restart does not give the griefer its allowance again.
 */
const chain = useDevnetChain();

/** The requester claims the newest receipt it signed to `p`, as anyone holding it may. */
async function claimAsRequester(p: ProviderSide, r: Requester): Promise<bigint> {
  const record = (await recordOf(p, r))!;
  const signed = latestReceipt(record);
  await r.escrow.sendExternalClaim(signed);
  await until(async () => (await r.escrow.getPaid(1, p.payout)) === signed.receipt.amount);
  return signed.receipt.amount;
}

async function answered(p: ProviderSide, r: Requester, session: Awaited<ReturnType<typeof openSession>>) {
  const answer = await session.session.request({ ...ask(4), max_tokens: 30 }, () => undefined);
  await until(async () => {
    const record = await recordOf(p, r);
    return record !== undefined && latestReceipt(record).receipt.amount >= answer.cost;
  });
  return answer;
}

describe("a requester claiming the provider's small receipts itself (fee griefing)", () => {
  it("is served once after its first claim and refused FOREIGN_CLAIMS after its second", async () => {
    const p = chain.provider(new ScriptedEngine({ reply: () => words(40) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });

    const first = await openSession(p, r);
    await answered(p, r, first);
    first.close();
    // Too small for the provider's own policy to claim (the fee would be ~10% of it): held.
    expect((await recordOf(p, r))!.claimed).toBe(0n);
    const claimedOnce = await claimAsRequester(p, r);
    expect(claimedOnce).toBeGreaterThan(0n);

    // Seen once: one claim may be an accident; the escrow is still served.
    const second = await openSession(p, r);
    await answered(p, r, second);
    second.close();
    await claimAsRequester(p, r);

    // Seen twice: this provider no longer serves the escrow, and says why by name.
    await expect(openSession(p, r)).rejects.toMatchObject({ code: "FOREIGN_CLAIMS" });
    // What it held is still its own to claim: nothing it streamed goes unpaid.
    await p.ton.settlement.claimNow();
    await p.ton.settlement.idle();
    const record = (await recordOf(p, r))!;
    expect(await r.escrow.getPaid(1, p.payout)).toBe(latestReceipt(record).receipt.amount);
  });

  it("a session already open gets FOREIGN_CLAIMS on its next request once the claims are seen", async () => {
    const p = chain.provider(new ScriptedEngine({ reply: () => words(40) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    const open = await openSession(p, r);
    for (let i = 0; i < 2; i++) {
      await answered(p, r, open);
      await claimAsRequester(p, r);
      // The provider's periodic read of the escrows it is owed by (the settlement sweep's).
      await p.ton.book.refresh(r.escrow.address);
    }
    await expect(open.session.request(ask(2), () => undefined)).rejects.toMatchObject({
      code: "FOREIGN_CLAIMS",
    });
    open.close();
  });

  it("counts only rises past its own claims, in flight or done, below 0.1 TON, on streams read before", () => {
    const book = new EscrowBook();
    const stream: StreamKey = {
      network: -1000,
      escrow: new Address(0, Buffer.alloc(32, 1)),
      payout: new Address(0, Buffer.alloc(32, 2)),
      keyEpoch: 1,
    };
    const m = 1_000_000n; // 0.001 TON
    const steps: [string, () => void, number][] = [
      ["first read of a stream (paid before this process knew it)", () => book.paidRead(stream, 80n * m), 0],
      [
        "our claim in flight, seen by a read before it is confirmed",
        () => {
          book.claiming(stream, 130n * m);
          book.paidRead(stream, 130n * m);
        },
        0,
      ],
      [
        "our claim confirmed",
        () => {
          book.paidChanged(stream, 130n * m);
          book.claimSettled(stream);
        },
        0,
      ],
      ["someone else's claim of 0.01 TON", () => book.paidRead(stream, 140n * m), 1],
      ["someone else's claim of 0.3 TON (its fee is ~1%: no harm)", () => book.paidRead(stream, 440n * m), 1],
      ["a read showing nothing new", () => book.paidRead(stream, 440n * m), 1],
      ["someone else's claim of 0.099 TON", () => book.paidRead(stream, 539n * m), 2],
    ];
    for (const [what, step, count] of steps) {
      step();
      expect(book.foreignSmallClaims(stream.escrow), what).toBe(count);
    }
  });

  it("the provider's own claims, next to a session's reads, never count", async () => {
    const p = chain.provider(new ScriptedEngine({ reply: () => words(40) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    for (let i = 0; i < 3; i++) {
      const s = await openSession(p, r);
      await answered(p, r, s);
      // "Claim now" while another read of the escrow runs at the same time.
      await Promise.all([p.ton.settlement.claimNow(), p.ton.book.refresh(r.escrow.address)]);
      await p.ton.settlement.idle();
      s.close();
    }
    expect(p.ton.book.foreignSmallClaims(r.escrow.address)).toBe(0);
    const last = await openSession(p, r);
    await answered(p, r, last);
    last.close();
  });

  it("a foreign claim its store fails to save is logged by code alone, and serving goes on", async () => {
    /** A store whose disk is full when a foreign claim is written (the claim's record only). */
    class FullOnForeignClaims extends MemoryReceiptStore {
      override async setClaimed(id: string, claimed: bigint, claim?: ClaimRecord): Promise<void> {
        if (claim?.reason === FOREIGN_CLAIM_REASON)
          throw Object.assign(new Error(`ENOSPC: no space left writing ${claimed} for ${id}`), {
            code: "ENOSPC",
          });
        return super.setClaimed(id, claimed, claim);
      }
    }
    const logged: string[] = [];
    const p = chain.provider(new ScriptedEngine({ reply: () => words(40) }), undefined, {
      store: new FullOnForeignClaims(),
      warn: (m) => logged.push(m),
    });
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    const s = await openSession(p, r);
    await answered(p, r, s);
    const claimed = await claimAsRequester(p, r);
    await p.ton.book.refresh(r.escrow.address);
    await until(() => logged.length > 0);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/another party's claim .* could not be saved .*\(ENOSPC\)/);
    // By code alone: neither the amount, nor the stream (its escrow and payout), nor the error's text.
    for (const secret of [
      String(claimed),
      r.escrow.address.toRawString(),
      r.escrow.address.toString(),
      p.payout.toString(),
      "no space left",
    ])
      expect(logged[0]).not.toContain(secret);
    // Counted all the same for this run, and the session keeps being served.
    expect(p.ton.book.foreignSmallClaims(r.escrow.address)).toBe(1);
    const next = await answered(p, r, s);
    expect(next.completionTokens).toBe(30);
    s.close();
  });

  it("after a restart, still refuses FOREIGN_CLAIMS: the count is kept with the receipts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "silk-griefing-"));
    const path = join(dir, "receipts.log");
    try {
      const store = ReceiptLogStore.open(path, { warn: () => undefined });
      const engine = new ScriptedEngine({ reply: () => words(40) });
      const p = chain.provider(engine, undefined, { store });
      const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
      for (let i = 0; i < 2; i++) {
        const s = await openSession(p, r);
        await answered(p, r, s);
        s.close();
        await claimAsRequester(p, r);
        await p.ton.book.refresh(r.escrow.address);
      }
      await expect(openSession(p, r)).rejects.toMatchObject({ code: "FOREIGN_CLAIMS" });
      // Each is on the provider's own record of the stream, as a claim that was not its own.
      const foreign = async () =>
        ((await recordOf(p, r))?.claims ?? []).filter((c) => c.reason === FOREIGN_CLAIM_REASON);
      await until(async () => (await foreign()).length === 2);
      await store.close();

      // The process starts again: the same receipts log, a new book that never saw those claims.
      const reopened = ReceiptLogStore.open(path, { warn: () => undefined });
      const again = chain.provider(engine, undefined, { store: reopened, payout: p.payout });
      expect(again.ton.book.foreignSmallClaims(r.escrow.address)).toBe(0);
      await expect(openSession(again, r)).rejects.toMatchObject({ code: "FOREIGN_CLAIMS" });
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
