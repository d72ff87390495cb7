import { type Address, toNano } from "@ton/core";
import type { BlockchainTransaction, SandboxContract, TreasuryContract } from "@ton/sandbox";
import { describe, expect, it } from "vitest";
import { compiled } from "../../contracts/compile";
import { EscrowError, EscrowParams } from "../../contracts/generated/constants";
import { Escrow, loadEscrowState } from "../../contracts/wrappers/escrow";
import { generateKeyPair, type KeyPair } from "../../protocol/identity";
import { NETWORK_ID, type SignedReceipt, signReceipt } from "../../protocol/receipt";
import { CLOSE_DELAY, type EscrowFixture, freshEscrowForEachTest, T0 } from "./escrow-fixture";
import { expectExit, expectExternalRefused, expectSuccess, firstOutValue } from "./helpers";

/**
 * The stream claimed last and the key added last live in the storage root, every other one in
 * its dictionary. Whichever place an entry is in, claims, refusals and getters must behave the
 * same: these tests move entries in and out of the hot slot and check them in both places.
 */
const KEY_ACTIVE = Number(EscrowParams.KEY_ACTIVE);
let f: EscrowFixture;
let other: SandboxContract<TreasuryContract>;
freshEscrowForEachTest(
  (fixture) => {
    f = fixture;
  },
  async (fixture) => {
    other = await fixture.blockchain.treasury("other-provider");
  },
);

function storageFeeOf(tx: BlockchainTransaction): bigint {
  return tx.description.type === "generic" ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
}

/**
 * Claims externally and checks the escrow went down by exactly the receipt's difference (plus
 * the storage fee, when the test moved the clock on), all of which went out as the payout
 * message and this transaction's fees.
 */
async function claims(signed: SignedReceipt, difference: bigint): Promise<void> {
  const before = await f.balance();
  const r = await f.escrow.sendExternalClaim(signed);
  const tx = expectSuccess(r.transactions, f.escrow.address);
  const storageFee = storageFeeOf(tx);
  const out = firstOutValue(tx);
  expect(out.dest.equals(signed.receipt.payout)).toBe(true);
  expect(before - (await f.balance())).toBe(difference + storageFee);
  expect(out.value + tx.totalFees.coins - storageFee + out.forwardFee).toBe(difference);
}

/** Refused externally and internally, with the escrow's balance unchanged. */
async function refusedBoth(signed: SignedReceipt, code: number): Promise<void> {
  const before = await f.balance();
  await expectExternalRefused(f.escrow.sendExternalClaim(signed), code);
  expect(await f.balance()).toBe(before);
  const r = await f.escrow.sendClaim(f.stranger.getSender(), { signed, value: toNano("0.05") });
  const tx = expectExit(r.transactions, f.escrow.address, code);
  // Only the storage rent due since the last transaction (when a test moved the clock on).
  expect(await f.balance()).toBe(before - storageFeeOf(tx));
}

async function paid(epoch: number, payout: Address): Promise<bigint> {
  return f.escrow.getPaid(epoch, payout);
}

async function addKey(key: KeyPair): Promise<void> {
  const r = await f.escrow.sendAddKey(f.owner.getSender(), { key: key.publicKey, value: toNano("0.05") });
  expectSuccess(r.transactions, f.escrow.address);
}

async function state() {
  const contract = await f.blockchain.getContract(f.escrow.address);
  const s = contract.accountState;
  if (s?.type !== "active" || !s.state.data) throw new Error("escrow not active");
  return loadEscrowState(s.state.data.beginParse());
}

describe("Escrow hot slot: streams", () => {
  it("claims for a second stream, then the first again, both exact wherever each is kept", async () => {
    await claims(f.receipt(toNano("1")), toNano("1"));
    // Second stream: the first (provider, epoch 1) is evicted into the paid dictionary.
    await claims(f.receipt(toNano("0.5"), { payout: other.address }), toNano("0.5"));
    expect(await paid(1, f.provider.address)).toBe(toNano("1"));
    expect(await paid(1, other.address)).toBe(toNano("0.5"));
    // Back to the first: its total comes out of the dictionary, the second goes in.
    await claims(f.receipt(toNano("1.25")), toNano("0.25"));
    expect(await paid(1, f.provider.address)).toBe(toNano("1.25"));
    expect(await paid(1, other.address)).toBe(toNano("0.5"));
    // And the second again, from the dictionary.
    await claims(f.receipt(toNano("0.75"), { payout: other.address }), toNano("0.25"));
    expect(await paid(1, f.provider.address)).toBe(toNano("1.25"));
    expect(await paid(1, other.address)).toBe(toNano("0.75"));
    // A stream never claimed reads 0 wherever the others are.
    expect(await paid(2, f.provider.address)).toBe(0n);
    expect(await paid(1, f.stranger.address)).toBe(0n);
  });

  it("keeps many streams exact while they take turns in the hot slot", async () => {
    const payouts = [f.provider, other, f.stranger, await f.blockchain.treasury("fourth")];
    const totals = payouts.map(() => 0n);
    for (let round = 1; round <= 3; round++) {
      for (const [i, p] of payouts.entries()) {
        const amount = toNano("0.1") * BigInt(round * (i + 1));
        await claims(f.receipt(amount, { payout: p.address }), amount - totals[i]!);
        totals[i] = amount;
      }
    }
    const read = await state();
    for (const [i, p] of payouts.entries()) {
      expect(await paid(1, p.address)).toBe(totals[i]);
      // The account's data alone (one chain read for a provider) says the same as get_paid.
      expect(read.paidOf(1, p.address)).toBe(totals[i]);
    }
    expect(read.paidOf(2, f.provider.address)).toBe(0n);
  });

  it("refuses replays and every other bad receipt, at no cost, for the hot and for a cold stream", async () => {
    const first = f.receipt(toNano("1"));
    const second = f.receipt(toNano("0.5"), { payout: other.address });
    await claims(first, toNano("1"));
    await claims(second, toNano("0.5"));
    // `second` is hot, `first` lives in the dictionary.
    for (const [signed, payout] of [
      [second, other.address],
      [first, f.provider.address],
    ] as const) {
      const amount = signed.receipt.amount;
      await refusedBoth(signed, EscrowError.NothingNew);
      await refusedBoth(f.receipt(amount - 1n, { payout }), EscrowError.NothingNew);
      await refusedBoth(
        f.receipt(amount + EscrowParams.MIN_CLAIM - 1n, { payout }),
        EscrowError.ClaimTooSmall,
      );
      await refusedBoth(f.receipt(toNano("1000"), { payout }), EscrowError.InsufficientBalance);
      await refusedBoth(f.receipt(amount + toNano("1"), { payout, keyEpoch: 2 }), EscrowError.WrongEpoch);
      const good = f.receipt(amount + toNano("1"), { payout });
      await refusedBoth(
        { ...good, signature: f.receipt(amount + toNano("2"), { payout }).signature },
        EscrowError.BadSignature,
      );
      await refusedBoth(
        f.receipt(amount + toNano("1"), { payout }, generateKeyPair()),
        EscrowError.UnknownKey,
      );
    }
    expect(await paid(1, f.provider.address)).toBe(toNano("1"));
    expect(await paid(1, other.address)).toBe(toNano("0.5"));
  });

  it("a claim for a cold stream may take the balance down to the storage reserve, not below", async () => {
    await claims(f.receipt(toNano("1")), toNano("1"));
    await claims(f.receipt(toNano("0.5"), { payout: other.address }), toNano("0.5"));
    const all = toNano("1") + (await f.balance()) - EscrowParams.STORAGE_RESERVE;
    await refusedBoth(f.receipt(all + 1n), EscrowError.InsufficientBalance);
    await claims(f.receipt(all), all - toNano("1"));
    expect(await f.balance()).toBe(EscrowParams.STORAGE_RESERVE);
  });
});

describe("Escrow hot slot: keys", () => {
  it("add_key twice: the newest key is hot, the older ones are read from the dictionary", async () => {
    const second = generateKeyPair();
    const third = generateKeyPair();
    await addKey(second);
    await addKey(third);
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 1, validUntil: KEY_ACTIVE });
    expect(await f.escrow.getKey(second.publicKey)).toEqual({ epoch: 2, validUntil: KEY_ACTIVE });
    expect(await f.escrow.getKey(third.publicKey)).toEqual({ epoch: 3, validUntil: KEY_ACTIVE });
    expect(await f.escrow.getKey(generateKeyPair().publicKey)).toBeUndefined();
    const keys = (await state()).keys;
    expect(keys.size).toBe(3);
    expect(keys.get(BigInt(`0x${Buffer.from(f.key.publicKey).toString("hex")}`))).toEqual({
      epoch: 1,
      validUntil: KEY_ACTIVE,
    });

    // Each key's receipts settle, the oldest from the dictionary, the newest from the root.
    await claims(f.receipt(toNano("1")), toNano("1"));
    await claims(f.receipt(toNano("0.4"), { keyEpoch: 2 }, second), toNano("0.4"));
    await claims(f.receipt(toNano("0.3"), { keyEpoch: 3 }, third), toNano("0.3"));
    await claims(f.receipt(toNano("1.5")), toNano("0.5"));
    expect(await paid(1, f.provider.address)).toBe(toNano("1.5"));
    expect(await paid(2, f.provider.address)).toBe(toNano("0.4"));
    expect(await paid(3, f.provider.address)).toBe(toNano("0.3"));
    // A key's receipt under another key's epoch is refused wherever either key lives.
    await refusedBoth(f.receipt(toNano("2"), { keyEpoch: 3 }), EscrowError.WrongEpoch);
    await refusedBoth(f.receipt(toNano("1"), { keyEpoch: 1 }, third), EscrowError.WrongEpoch);
  });

  it("revokes the hot key and a cold one: both stay claimable for one close delay, then are refused", async () => {
    const second = generateKeyPair();
    await addKey(second); // `second` is hot, f.key is in the dictionary
    const owner = f.owner.getSender();
    for (const key of [second, f.key]) {
      const r = await f.escrow.sendRevokeKey(owner, { key: key.publicKey, value: toNano("0.05") });
      expectSuccess(r.transactions, f.escrow.address);
      const again = await f.escrow.sendRevokeKey(owner, { key: key.publicKey, value: toNano("0.05") });
      expectExit(again.transactions, f.escrow.address, EscrowError.KeyExpired);
    }
    expect(await f.escrow.getKey(second.publicKey)).toEqual({ epoch: 2, validUntil: T0 + CLOSE_DELAY });
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 1, validUntil: T0 + CLOSE_DELAY });
    const r = await f.escrow.sendRevokeKey(owner, {
      key: generateKeyPair().publicKey,
      value: toNano("0.05"),
    });
    expectExit(r.transactions, f.escrow.address, EscrowError.UnknownKey);

    f.blockchain.now = T0 + CLOSE_DELAY - 1;
    await claims(f.receipt(toNano("1")), toNano("1"));
    await claims(f.receipt(toNano("1"), { keyEpoch: 2 }, second), toNano("1"));
    f.blockchain.now = T0 + CLOSE_DELAY;
    await refusedBoth(f.receipt(toNano("2")), EscrowError.KeyExpired);
    await refusedBoth(f.receipt(toNano("2"), { keyEpoch: 2 }, second), EscrowError.KeyExpired);
  });

  it("re-adding a key kept in the dictionary makes it hot with a new epoch, and leaves one record", async () => {
    const second = generateKeyPair();
    const owner = f.owner.getSender();
    await addKey(second); // f.key moves to the dictionary
    await f.escrow.sendRevokeKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    let r = await f.escrow.sendAddKey(owner, { key: f.key.publicKey, value: toNano("0.05") });
    expectExit(r.transactions, f.escrow.address, EscrowError.KeyExists);
    r = await f.escrow.sendAddKey(owner, { key: second.publicKey, value: toNano("0.05") });
    expectExit(r.transactions, f.escrow.address, EscrowError.KeyExists);

    f.blockchain.now = T0 + CLOSE_DELAY;
    await addKey(f.key);
    expect(await f.escrow.getKey(f.key.publicKey)).toEqual({ epoch: 3, validUntil: KEY_ACTIVE });
    expect(await f.escrow.getKey(second.publicKey)).toEqual({ epoch: 2, validUntil: KEY_ACTIVE });
    const s = await state();
    expect(s.keys.size).toBe(2);
    expect(s.nextEpoch).toBe(4);
    await refusedBoth(f.receipt(toNano("1")), EscrowError.WrongEpoch);
    await claims(f.receipt(toNano("1"), { keyEpoch: 3 }), toNano("1"));
    await claims(f.receipt(toNano("1"), { keyEpoch: 2 }, second), toNano("1"));
  });
});

describe("Escrow hot slot: storage", () => {
  it("an escrow that never had a key refuses every receipt, key 0 included, at no cost", async () => {
    const { code } = await compiled("escrow");
    const bare = f.blockchain.openContract(
      Escrow.createFromConfig({ owner: f.owner.address, network: NETWORK_ID.devnet, closeDelay: 60 }, code),
    );
    const deployed = await bare.sendDeposit(f.owner.getSender(), toNano("5"));
    expectSuccess(deployed.transactions, bare.address);
    expect(await bare.getKey(new Uint8Array(32))).toBeUndefined();
    const signed = signReceipt(
      {
        network: NETWORK_ID.devnet,
        escrow: bare.address,
        payout: f.provider.address,
        keyEpoch: 1,
        tokens: 1n,
        amount: toNano("1"),
      },
      f.key,
    );
    const before = (await f.blockchain.getContract(bare.address)).balance;
    await expectExternalRefused(bare.sendExternalClaim(signed), EscrowError.UnknownKey);
    // Key 0 matches the empty slot, whose epoch 0 no receipt can carry and whose validity is over.
    const zero = { ...signed, sessionKey: new Uint8Array(32) };
    await expectExternalRefused(bare.sendExternalClaim(zero), EscrowError.WrongEpoch);
    const epochZero = { ...zero, receipt: { ...zero.receipt, keyEpoch: 0 } };
    await expectExternalRefused(bare.sendExternalClaim(epochZero), EscrowError.KeyExpired);
    expect((await f.blockchain.getContract(bare.address)).balance).toBe(before);
  });

  it("the wrapper reads the same state the getters report", async () => {
    await addKey(generateKeyPair());
    const s = await state();
    const data = await f.escrow.getEscrowData();
    expect(s.owner.equals(data.owner)).toBe(true);
    expect({
      network: s.network,
      closeDelay: s.closeDelay,
      unlockAt: s.unlockAt,
      nextEpoch: s.nextEpoch,
    }).toEqual({
      network: data.network,
      closeDelay: data.closeDelay,
      unlockAt: data.unlockAt,
      nextEpoch: data.nextEpoch,
    });
    expect(s.keys.size).toBe(2);
  });
});
