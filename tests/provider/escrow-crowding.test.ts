import { randomBytes } from "node:crypto";
import { Address, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { NETWORK_ID, signReceipt, streamId } from "../../protocol";
import { CROWDED_CLAIM_DEPTH } from "../../provider/claim-fee";
import { latestReceipt } from "../../provider/receipt-store";
import { ScriptedEngine } from "../doubles/scripted-engine";
import {
  ask,
  openSession,
  type ProviderSide,
  type Requester,
  streamOf,
  until,
  useDevnetChain,
  words,
} from "./devnet-sessions";

/**
 * Crowding the escrow's `paid` dictionary, on the devnet. A claim off the hot slot walks the
 * dictionary, and past 8 forks along its stream's key it no longer fits the gas TON lends an
 * external message (claim-fee.ts). A requester knows the provider's payout (the grant names it),
 * so it can claim for streams of its own whose keys share ever longer prefixes with the
 * provider's: seven such claims of 0.011 TON, paid back to itself, and a provider that claims only
 * externally (every provider Silk ships) could never be paid. The provider now reads how deep its
 * stream sits: it refuses an escrow past CROWDED_CLAIM_DEPTH (`ESCROW_CROWDED`), and claims what
 * it holds at once from that depth on.
 */
const chain = useDevnetChain();

/** The requester claims, to a payout of its own, a stream whose key shares the first `bits` bits with the provider's. */
async function combClaim(p: ProviderSide, r: Requester, bits: number): Promise<void> {
  const hash = Buffer.from(p.payout.hash);
  hash[bits >> 3]! ^= 0x80 >> (bits & 7);
  for (let j = bits + 1; j < 256; j++) if (randomBytes(1)[0]! & 1) hash[j >> 3]! ^= 0x80 >> (j & 7);
  await claimTo(r, new Address(0, hash));
}

async function claimTo(r: Requester, payout: Address): Promise<void> {
  const amount = toNano("0.011");
  const signed = signReceipt(
    { network: NETWORK_ID.devnet, escrow: r.escrow.address, payout, keyEpoch: 1, tokens: 11n, amount },
    r.sessionKey,
  );
  await r.escrow.sendExternalClaim(signed);
  await until(async () => (await r.escrow.getPaid(1, payout)) === amount);
}

/** The requester's own claims: the first takes the hot slot, the rest line up along the provider's key. */
async function crowd(p: ProviderSide, r: Requester, forks: number): Promise<void> {
  await claimTo(r, new Address(0, randomBytes(32)));
  for (let i = 0; i < forks; i++) await combClaim(p, r, i * 2);
}

const stream = (p: ProviderSide, r: Requester) => streamId(streamOf(p, r));

describe("an escrow crowded along the provider's stream", () => {
  it(`past ${CROWDED_CLAIM_DEPTH} forks: refused ESCROW_CROWDED before anything is streamed`, async () => {
    const p = chain.provider(new ScriptedEngine({ reply: () => words(20) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    await crowd(p, r, CROWDED_CLAIM_DEPTH + 1);
    await expect(openSession(p, r)).rejects.toMatchObject({ code: "ESCROW_CROWDED" });
  });

  it("crowded mid-session: claims what it holds at once and refuses the next request", async () => {
    const p = chain.provider(new ScriptedEngine({ reply: () => words(30) }));
    const r = await chain.requester({ deposit: toNano("1"), closeDelay: 3_600 });
    await crowd(p, r, CROWDED_CLAIM_DEPTH - 2);
    const open = await openSession(p, r);
    const first = await open.session.request({ ...ask(4), max_tokens: 30 }, () => undefined);
    await until(async () => latestReceipt((await p.store.get(stream(p, r)))!).receipt.amount === first.cost);
    // Too small to be worth a fee on an uncrowded escrow: held, not claimed.
    await p.ton.settlement.idle();
    expect((await p.store.get(stream(p, r)))!.claimed).toBe(0n);

    // Three more of its own streams along the provider's key: one past what is served, one short
    // of where no external claim fits.
    for (let i = CROWDED_CLAIM_DEPTH - 2; i <= CROWDED_CLAIM_DEPTH; i++) await combClaim(p, r, i * 2);
    // The provider's periodic read of the escrows it is owed by (the settlement sweep's).
    await p.ton.book.refresh(r.escrow.address);
    await p.ton.settlement.endSession([stream(p, r)]);
    await p.ton.settlement.idle();
    const record = (await p.store.get(stream(p, r)))!;
    expect(record.claimed).toBe(first.cost);
    expect(record.claims?.at(-1)?.reason).toBe("escrow-crowding");

    await expect(open.session.request(ask(2), () => undefined)).rejects.toMatchObject({
      code: "ESCROW_CROWDED",
    });
    open.close();
  });
});
