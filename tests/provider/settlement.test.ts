import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address, toNano } from "@ton/core";
import { loadConfigParamById } from "@ton/ton";
import { describe, expect, it } from "vitest";
import { EscrowParams } from "../../contracts/generated/constants";
import { ReceiptConflictError } from "../../protocol/errors";
import type { SignedReceipt } from "../../protocol/receipt";
import { type ClaimChain, ClaimRefusedError, EscrowClaimChain, exitCodeOf } from "../../provider/claim-chain";
import { type ChainPrices, chainPricesOf, claimFee } from "../../provider/claim-fee";
import { ReceiptLogStore } from "../../provider/headless/receipt-log-store";
import { MemoryReceiptStore, streamId } from "../../provider/receipt-store";
import { Settlement } from "../../provider/settlement";
import type { SettlementPolicy } from "../../provider/settlement-policy";
import { type EscrowFixture, freshEscrowForEachTest } from "../contracts/escrow-fixture";

const policy: SettlementPolicy = {
  feeShareBps: 100,
  maxHoldMs: 86_400_000,
  riskHeadroomNano: toNano("0.1"),
  minClaimNano: EscrowParams.MIN_CLAIM,
  maxAttempts: 3,
  retryBaseMs: 1,
};
const noSleep = async () => {};

let f: EscrowFixture;
let prices: ChainPrices;
freshEscrowForEachTest((fixture) => {
  f = fixture;
  const config = f.blockchain.configBase64;
  prices = chainPricesOf(loadConfigParamById(config, 21), loadConfigParamById(config, 25));
});
/** The hot path's fee at the sandbox's (mainnet) prices: about 0.0034 TON, so 1% of 0.34 TON. */
const fee = async (signed: SignedReceipt) => claimFee(signed, "hot", prices);

function sandboxChain(): EscrowClaimChain {
  return new EscrowClaimChain((escrow) => {
    if (!escrow.equals(f.escrow.address)) throw new Error("unknown escrow");
    return f.escrow;
  });
}

/** The sandbox chain, whose first `failures` external claims fail on the way (network trouble). */
function flakyChain(failures: number): ClaimChain {
  const real = sandboxChain();
  let left = failures;
  return {
    paid: (e, k, p) => real.paid(e, k, p),
    claimExternal: async (s) => {
      if (left-- > 0) throw new Error("network unreachable");
      await real.claimExternal(s);
    },
  };
}

function setup(chain: ClaimChain = sandboxChain()) {
  const store = new MemoryReceiptStore();
  const settlement = new Settlement({ store, chain, policy, fee, sleep: noSleep, confirmPolls: 1 });
  return { store, settlement };
}

describe("provider settlement against the sandbox escrow", () => {
  it("keeps receipts, claims once the fee is at most 1% of the amount, and Claim now at any share", async () => {
    const { settlement } = setup();
    await settlement.accept(f.receipt(toNano("0.2")));
    await settlement.endSession();
    await settlement.idle();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(0n);
    let status = await settlement.status();
    const expectedFee = await fee(f.receipt(toNano("0.2")));
    expect(status).toMatchObject({ claimed: 0n, pending: toNano("0.2"), earned: toNano("0.2") });
    expect(status.streams[0]?.next).toMatchObject({
      action: "wait",
      reason: "fee-above-target",
      worthAt: expectedFee * 100n,
    });
    expect(status.claimNow).toEqual({ streams: 1, amount: toNano("0.2"), fee: expectedFee });

    const worthIt = f.receipt(toNano("0.4"));
    await settlement.accept(worthIt);
    await settlement.idle();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("0.4"));
    status = await settlement.status();
    expect(status.streams[0]?.claims).toEqual([
      { at: expect.any(Number), amount: toNano("0.4"), fee: await fee(worthIt), reason: "worth-it" },
    ]);
    expect(status.feeShareBps).toBeLessThanOrEqual(100);

    await settlement.accept(f.receipt(toNano("0.45")));
    await settlement.endSession();
    await settlement.idle();
    expect(await settlement.status()).toMatchObject({ claimed: toNano("0.4"), pending: toNano("0.05") });
    await settlement.claimNow();
    await settlement.idle();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("0.45"));
    status = await settlement.status();
    expect(status).toMatchObject({ claimed: toNano("0.45"), pending: 0n, earned: toNano("0.45") });
    expect(status.streams[0]?.claims.map((c) => c.reason)).toEqual(["worth-it", "asked"]);
    expect(status.streams[0]?.lastError).toBeUndefined();
  });

  it("keeps the last payable receipt beside a bad newest one, and is paid the honest part", async () => {
    const { settlement, store } = setup();
    const honest = f.receipt(toNano("0.5"));
    await settlement.accept(honest);
    await settlement.idle();
    // 50 TON on a 10 TON escrow: kept, marked as more than the escrow could pay.
    await settlement.accept(f.receipt(toNano("50")), false);
    await settlement.idle();
    const record = await store.get(streamId(honest.receipt));
    expect(record?.payable).toBeDefined();
    const status = await settlement.status();
    expect(status.streams[0]).toMatchObject({
      claimed: toNano("0.5"),
      pending: 0n,
      unpayable: toNano("49.5"),
    });
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("0.5"));
  });

  it("claims the honest part when the newest receipt is refused for want of funds", async () => {
    const { settlement } = setup();
    await settlement.accept(f.receipt(toNano("0.7")));
    await settlement.accept(f.receipt(toNano("50")), false);
    await settlement.claimNow();
    await settlement.idle();
    // The 50 TON receipt was tried first (a top-up might have made it good), refused, then 0.7 paid.
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("0.7"));
    expect(await settlement.status()).toMatchObject({ claimed: toNano("0.7"), pending: 0n });
  });

  it("resolves accept only once the store holds the receipt, and never lets an older one replace it", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const store = new MemoryReceiptStore();
    const slowStore = Object.assign(Object.create(store) as MemoryReceiptStore, {
      put: async (s: SignedReceipt) => {
        await gate;
        return store.put(s);
      },
    });
    const settlement = new Settlement({
      store: slowStore,
      chain: sandboxChain(),
      policy,
      fee,
      sleep: noSleep,
      confirmPolls: 1,
    });
    let done = false;
    const accepted = settlement.accept(f.receipt(toNano("0.5"))).then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    release();
    await accepted;
    expect((await store.list()).length).toBe(1);
    await settlement.accept(f.receipt(toNano("0.2")));
    expect((await settlement.status()).pending).toBe(toNano("0.5"));
    const conflicting = f.receipt(toNano("0.6"), { tokens: 1n });
    await expect(settlement.accept(conflicting)).rejects.toBeInstanceOf(ReceiptConflictError);
  });

  it("retries a claim that failed on the way, and succeeds", async () => {
    const flaky = flakyChain(2);
    const { settlement } = setup(flaky);
    await settlement.accept(f.receipt(toNano("2")));
    await settlement.idle();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("2"));
    expect((await settlement.status()).pending).toBe(0n);
  });

  it("sweeps again later what it gave up on after its retries", async () => {
    const flaky = flakyChain(policy.maxAttempts + 2); // more than one trigger's worth of attempts
    const { settlement } = setup(flaky);
    await settlement.accept(f.receipt(toNano("2")));
    await settlement.idle();
    expect((await settlement.status()).pending).toBe(toNano("2"));
    const stop = settlement.sweepEvery(5);
    await expect.poll(() => f.escrow.getPaid(1, f.provider.address)).toBe(toNano("2"));
    stop();
    await settlement.idle();
    expect((await settlement.status()).pending).toBe(0n);
  });

  it("a restarted provider claims what its receipt log holds at once, not at the next sweep", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "silk-settle-restart-")), "receipts.log");
    const before = ReceiptLogStore.open(path);
    await before.put(f.receipt(toNano("0.4"))); // worth its fee, but its claim had not started
    await before.close(); // the provider stops before its session ends

    const store = ReceiptLogStore.open(path);
    const settlement = new Settlement({
      store,
      chain: sandboxChain(),
      policy,
      fee,
      sleep: noSleep,
      confirmPolls: 1,
    });
    const stop = settlement.sweepEvery(60 * 60_000);
    await expect.poll(() => f.escrow.getPaid(1, f.provider.address)).toBe(toNano("0.4"));
    stop();
    await settlement.idle();
    expect(await settlement.status()).toMatchObject({ claimed: toNano("0.4"), pending: 0n });
    await store.close();
  });

  it("keeps an underfunded claim pending with its reason, and settles it after a top-up", async () => {
    const { settlement } = setup();
    const big = f.receipt(toNano("12"));
    await settlement.accept(big);
    await settlement.idle();
    let status = await settlement.status();
    expect(status.pending).toBe(toNano("12"));
    expect(status.streams[0]?.lastError).toMatch(/cannot pay/);
    await f.escrow.sendDeposit(f.stranger.getSender(), toNano("5"));
    await settlement.endSession([streamId(big.receipt)]);
    status = await settlement.status();
    expect(status).toMatchObject({ claimed: toNano("12"), pending: 0n });
  });

  it("paid in part (the reserve and the free balance), stops reading the chain and waits for a top-up", async () => {
    // 6 TON reserved for this provider, all but 1 TON of the free balance claimed by another.
    await f.escrow.sendReserve(f.reserve(toNano("6")));
    const other = (await f.blockchain.treasury("other-provider")).address;
    const free = (await f.balance()) - EscrowParams.STORAGE_RESERVE - toNano("6");
    await f.escrow.sendExternalClaim(f.receipt(free - toNano("1"), { payout: other }));
    const real = sandboxChain();
    let reads = 0;
    let claims = 0;
    const counting: ClaimChain = {
      paid: (e, k, p) => {
        reads++;
        return real.paid(e, k, p);
      },
      claimExternal: (s) => {
        claims++;
        return real.claimExternal(s);
      },
    };
    const store = new MemoryReceiptStore();
    const settlement = new Settlement({
      store,
      chain: counting,
      policy,
      fee,
      sleep: noSleep,
      confirmPolls: 10,
    });
    const big = f.receipt(toNano("8"));
    await settlement.accept(big); // 8 TON: its fee is well under 1%, so it is claimed at once
    await settlement.idle();
    // One claim paid 7 of the 8: one read before it, one that saw the rise, and no more.
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("7"));
    expect({ reads, claims }).toEqual({ reads: 2, claims: 1 });
    let status = await settlement.status();
    expect(status).toMatchObject({ claimed: toNano("7"), pending: toNano("1") });
    expect(status.streams[0]?.lastError).toMatch(/paid in part/);
    // The rest once the requester tops up.
    await f.escrow.sendDeposit(f.owner.getSender(), toNano("2"));
    await settlement.endSession([streamId(big.receipt)]);
    await settlement.idle();
    status = await settlement.status();
    expect(status).toMatchObject({ claimed: toNano("8"), pending: 0n });
  });

  it("a stream another claim left under the 0.01 TON minimum is not retried: it says what it holds", async () => {
    // Anyone holding a receipt can claim it: an older one claimed first leaves 0.005 TON.
    await f.escrow.sendExternalClaim(f.receipt(toNano("1.995"), { tokens: 1n }));
    const real = sandboxChain();
    let claims = 0;
    const counting: ClaimChain = {
      paid: (e, k, p) => real.paid(e, k, p),
      claimExternal: (s) => {
        claims++;
        return real.claimExternal(s);
      },
    };
    const { settlement } = setup(counting);
    const newest = f.receipt(toNano("2"), { tokens: 2n });
    await settlement.accept(newest); // ClaimTooSmall (209): nothing a retry can change
    await settlement.idle();
    expect(claims).toBe(1);
    const status = await settlement.status();
    expect(status).toMatchObject({ claimed: toNano("1.995"), pending: toNano("0.005") });
    expect(status.streams[0]?.lastError).toBe(
      "nothing to claim yet: the stream holds less than the escrow's minimum claim of 0.01 TON (exit code 209)",
    );
    expect(status.streams[0]?.next).toMatchObject({ action: "wait", reason: "below-minimum" });
  });

  it("a receipt another party already claimed is recorded as claimed from the chain", async () => {
    const signed = f.receipt(toNano("1.1"));
    await f.escrow.sendExternalClaim(signed);
    const { settlement } = setup();
    await settlement.accept(signed);
    await settlement.idle();
    expect(await settlement.status()).toMatchObject({ claimed: toNano("1.1"), pending: 0n });
  });

  it("falls back to a claim paid by its own wallet when the escrow is too large for an external one", async () => {
    const withWallet = new EscrowClaimChain(() => f.escrow, {
      sender: f.provider.getSender(),
      gasValue: toNano("0.05"),
    });
    const tooLarge: ClaimChain = {
      paid: (e, k, p) => withWallet.paid(e, k, p),
      claimExternal: async () => {
        throw new ClaimRefusedError("out of the gas credit", -14);
      },
      claimInternal: (signed) => withWallet.claimInternal!(signed),
    };
    const { settlement } = setup(tooLarge);
    await settlement.accept(f.receipt(toNano("1.3")));
    await settlement.idle();
    expect(await f.escrow.getPaid(1, f.provider.address)).toBe(toNano("1.3"));
    expect(await settlement.status()).toMatchObject({ claimed: toNano("1.3"), pending: 0n });
  });

  it("reads exit codes from sandbox errors and from devnet or toncenter error text", () => {
    expect(exitCodeOf({ exitCode: 207 })).toBe(207);
    expect(
      exitCodeOf(
        new Error('Received error: {"ok":false,"error":"external message not accepted (exit code 208)"}'),
      ),
    ).toBe(208);
    expect(exitCodeOf(new Error("Cannot run message on account: exitcode=210, steps=90"))).toBe(210);
    expect(exitCodeOf(new Error("timeout"))).toBeUndefined();
    expect(new ClaimRefusedError("x", 1).exitCode).toBe(1);
    expect(Address.isAddress(f.escrow.address)).toBe(true);
  });
});
