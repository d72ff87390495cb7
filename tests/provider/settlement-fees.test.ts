import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address, type Cell, toNano } from "@ton/core";
import { TonClient } from "@ton/ton";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { flatPrice, generateKeyPair, NETWORK_ID, streamId } from "../../protocol";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import { latestReceipt } from "../../provider/receipt-store";
import { connectTon } from "../../provider/ton-chain";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  claimsOn,
  devnetInfo,
  openSession,
  type ProviderSide,
  type Requester,
  requester,
} from "./devnet-sessions";

/**
 * Issue 18 on the devnet: many small sessions from many requesters at the default price (1,000
 * nanoTON a token, about 0.008 TON a session: one claim each would give a third of it to fees),
 * settled by the fee-aware policy; the fees paid on chain, counted from the escrows' transactions
 * to the nanoTON, stay within 1% of what the escrows paid. And a provider killed and restarted
 * keeps its held receipts and its schedule, and claims on it.
 */
const DEFAULT_PRICE = flatPrice(1_000n);
const REQUESTERS = 4;
const SESSIONS_EACH = 50;
// A long question (about 8,000 prompt tokens billed) and a short answer: a small session's worth.
const QUESTION = "q ".repeat(16_000);
const now = Math.floor(Date.now() / 1000);
let devnet: Devnet;
let client: TonClient;
let code: Cell;

beforeAll(async () => {
  devnet = await startDevnet({ clock: () => now });
  client = new TonClient({ endpoint: devnet.endpoint });
  code = (await devnetInfo(devnet)).escrowCode;
});
afterAll(async () => {
  await devnet?.close();
});

function providerOn(store: ReceiptLogStore, payout: Address, clock: () => number = Date.now): ProviderSide {
  const ton = connectTon({
    endpoint: devnet.endpoint,
    store,
    escrowCode: code,
    minCloseDelay: 60,
    // These requesters raise no reserve, and a session's prompt (32,000 bytes, its bound) is more
    // than the default trust beyond a reserve: this provider opts out, as one serving old clients.
    unreservedNano: "whole-balance",
    policy: { retryBaseMs: 50, maxHoldMs: 3_600_000 },
    now: clock,
  });
  const engine = new ScriptedEngine({ reply: () => "a short answer of a few words" });
  return { payout, ton, store, engine, price: DEFAULT_PRICE, creditWindowTokens: 64 };
}

const freshLog = () => join(mkdtempSync(join(tmpdir(), "silk-fees-")), "receipts.log");
const freshPayout = () => new Address(0, Buffer.from(generateKeyPair().publicKey));
const question = { model: "test-model", messages: [{ role: "user" as const, content: QUESTION }] };

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sessions(p: ProviderSide, r: Requester, count: number): Promise<bigint> {
  let spent = 0n;
  const id = streamId({
    network: NETWORK_ID.devnet,
    escrow: r.escrow.address,
    payout: p.payout,
    keyEpoch: 1,
  });
  for (let i = 0; i < count; i++) {
    const s = await openSession(p, r);
    spent += (await s.session.request(question, () => undefined)).cost;
    // The session ends once the provider holds the answer's final receipt.
    await until(async () => {
      const record = await p.store.get(id);
      return record !== undefined && latestReceipt(record).receipt.amount === spent;
    });
    s.close();
  }
  return spent;
}

describe("settlement fees on the devnet", () => {
  it("keeps the fees paid on chain within 1% of what the escrows paid, over many small sessions", async () => {
    const store = ReceiptLogStore.open(freshLog());
    const p = providerOn(store, freshPayout());
    const rs: Requester[] = [];
    for (let i = 0; i < REQUESTERS; i++)
      rs.push(await requester(devnet, client, { deposit: toNano("2"), closeDelay: 3_600, code }));
    const spent = await Promise.all(rs.map((r) => sessions(p, r, SESSIONS_EACH)));
    await p.ton.settlement.idle();

    let paid = 0n;
    let fees = 0n;
    let claims = 0;
    for (const [i, r] of rs.entries()) {
      const onChain = await claimsOn(client, r.escrow.address);
      // Each requester's stream passed the 1% mark at least once, and was never claimed per session.
      expect(onChain.count).toBeGreaterThanOrEqual(1);
      expect(onChain.count).toBeLessThanOrEqual(2);
      expect(onChain.paid).toBe(await r.escrow.getPaid(1, p.payout));
      expect(onChain.paid).toBeLessThanOrEqual(spent[i]!);
      paid += onChain.paid;
      fees += onChain.fees;
      claims += onChain.count;
    }
    expect(fees * 100n).toBeLessThanOrEqual(paid);
    expect(await client.getBalance(p.payout)).toBe(paid - fees);

    // The owner's status says the same, to the nanoTON: fees read from the claims' transactions.
    const status = await p.ton.settlement.status();
    expect(status.claimed).toBe(paid);
    expect(status.feesPaid).toBe(fees);
    expect(status.feeShareBps).toBeLessThanOrEqual(100);
    expect(status.earned).toBe(spent.reduce((a, b) => a + b, 0n));
    expect(status.streams.flatMap((s) => s.claims)).toHaveLength(claims);
    // What is still held waits for its 1%, and says from what amount and until when.
    for (const s of status.streams.filter((x) => x.pending > 0n)) {
      expect(s.next).toMatchObject({ action: "wait", reason: "fee-above-target" });
      expect(s.feeShareBps).toBeGreaterThan(100);
    }
    console.log(
      `${REQUESTERS * SESSIONS_EACH} sessions, ${claims} claims: paid ${paid} nanoTON, fees ${fees} (${Number((fees * 10_000n) / paid) / 100}%); one claim per session would have cost ${REQUESTERS * SESSIONS_EACH} claims`,
    );
    await store.close();
  }, 300_000);

  it("a provider killed and restarted keeps its held receipts and its schedule, and claims on it", async () => {
    const path = freshLog();
    const payout = freshPayout();
    let clock = Date.now();
    const before = providerOn(ReceiptLogStore.open(path), payout, () => clock);
    const rs = [
      await requester(devnet, client, { deposit: toNano("1"), closeDelay: 3_600, code }),
      await requester(devnet, client, { deposit: toNano("1"), closeDelay: 3_600, code }),
    ];
    const spent = await Promise.all(rs.map((r) => sessions(before, r, 3)));
    await before.ton.settlement.idle();
    const held = await before.ton.settlement.status();
    expect(held.pending).toBe(spent[0]! + spent[1]!);
    expect(held.claimed).toBe(0n);
    // Killed: nothing more reaches its store (every receipt was fsynced before it was acknowledged).
    await (before.store as ReceiptLogStore).close();

    const after = providerOn(ReceiptLogStore.open(path), payout, () => clock);
    // Its first sweep (sweepEvery runs one at start) reads the escrows it holds receipts on.
    await after.ton.settlement.sweep();
    const resumed = await after.ton.settlement.status();
    const heldPer = (st: typeof held) => st.escrows.map((e) => [e.escrow, e.held]);
    expect(heldPer(resumed)).toEqual(heldPer(held));
    expect(resumed.streams.map((s) => [s.id, s.pending, s.next])).toEqual(
      held.streams.map((s) => [s.id, s.pending, s.next]),
    );
    const deadlines = resumed.streams.map((st) => (st.next.action === "wait" ? st.next.deadline : undefined));
    for (const st of resumed.streams)
      expect(st.next).toMatchObject({
        action: "wait",
        reason: "fee-above-target",
        deadline: expect.any(Number),
      });

    // A moment before the schedule's deadline (held an hour) nothing is claimed; at it, everything.
    clock = Math.min(...(deadlines as number[])) - 1;
    await after.ton.settlement.sweep();
    await after.ton.settlement.idle();
    expect((await after.ton.settlement.status()).claimed).toBe(0n);
    clock = Math.max(...(deadlines as number[]));
    await after.ton.settlement.sweep();
    await after.ton.settlement.idle();
    for (const [i, r] of rs.entries()) expect(await r.escrow.getPaid(1, payout)).toBe(spent[i]);
    const done = await after.ton.settlement.status();
    expect(done).toMatchObject({ claimed: spent[0]! + spent[1]!, pending: 0n });
    expect(done.streams.flatMap((s) => s.claims.map((c) => c.reason))).toEqual([
      "held-too-long",
      "held-too-long",
    ]);
    await (after.store as ReceiptLogStore).close();
  }, 120_000);
});
