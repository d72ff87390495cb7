import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { RegistryError, RegistryParams } from "../../contracts/generated/constants";
import { expectExit, expectSuccess, firstOutValue } from "./helpers";
import { entry, freshRegistryForEachTest, type RegistryFixture, T0 } from "./registry-fixture";

const STAKE = toNano("5");
const { ENTRY_RESERVE, STAKE_FEE, UNLOCK_DELAY } = RegistryParams;

let f: RegistryFixture;
freshRegistryForEachTest(
  (fixture) => {
    f = fixture;
  },
  { now: T0 },
);

/** Alice registered at T0 with STAKE locked in her entry. */
async function staked() {
  const e = entry(f.alice.address);
  await f.registry.sendRegister(f.alice.getSender(), {
    ...f.signed(e, f.alice.address),
    value: toNano("0.1"),
  });
  const mine = f.entryOf(f.alice.address);
  const r = await mine.sendAddStake(f.alice.getSender(), { amount: STAKE, value: STAKE + toNano("0.05") });
  expectSuccess(r.transactions, mine.address);
  return { mine, e };
}

/**
 * Runs `send` and asserts it was refused with `code`, the entry's stake untouched and its balance
 * too, but for the storage fee the chain charges for the time since its last transaction.
 */
async function refused(
  mine: ReturnType<RegistryFixture["entryOf"]>,
  code: number,
  send: () => Promise<{ transactions: Parameters<typeof expectExit>[0] }>,
) {
  const before = { balance: await f.balance(mine.address), stake: await mine.getStake() };
  const r = await send();
  const tx = expectExit(r.transactions, mine.address, code);
  const storage =
    tx.description.type === "generic" ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
  expect(await f.balance(mine.address)).toBe(before.balance - storage);
  expect(await mine.getStake()).toEqual(before.stake);
}

describe("Registry stake: refusals, each leaving the entry's balance and stake untouched", () => {
  it("only the owner stakes or withdraws", async () => {
    const { mine } = await staked();
    await refused(mine, RegistryError.NotOwner, () =>
      mine.sendAddStake(f.mallory.getSender(), { amount: STAKE, value: STAKE + toNano("0.05") }),
    );
    await mine.sendRemove(f.alice.getSender(), { value: toNano("0.05") });
    f.blockchain.now = T0 + Number(UNLOCK_DELAY) + 1;
    await refused(mine, RegistryError.NotOwner, () =>
      mine.sendWithdrawStake(f.mallory.getSender(), { value: toNano("0.05") }),
    );
  });

  it("a stake needs its amount and the fee attached", async () => {
    const { mine } = await staked();
    await refused(mine, RegistryError.NotEnoughValue, () =>
      mine.sendAddStake(f.alice.getSender(), { amount: STAKE, value: STAKE + STAKE_FEE - 1n }),
    );
  });

  it("a stake is locked while registered and for the unlock delay after leaving", async () => {
    const { mine } = await staked();
    await refused(mine, RegistryError.StakeLocked, () =>
      mine.sendWithdrawStake(f.alice.getSender(), { value: toNano("0.05") }),
    );
    await mine.sendRemove(f.alice.getSender(), { value: toNano("0.05") });
    f.blockchain.now = T0 + Number(UNLOCK_DELAY) - 1;
    await refused(mine, RegistryError.StakeLocked, () =>
      mine.sendWithdrawStake(f.alice.getSender(), { value: toNano("0.05") }),
    );
    // Removing again would restart the delay; staking into a removed entry would lock nothing new.
    await refused(mine, RegistryError.NotRegistered, () =>
      mine.sendRemove(f.alice.getSender(), { value: toNano("0.05") }),
    );
    await refused(mine, RegistryError.NotRegistered, () =>
      mine.sendAddStake(f.alice.getSender(), { amount: 1n, value: toNano("0.05") }),
    );
  });

  it("nothing to withdraw from an entry without stake", async () => {
    await f.registry.sendRegister(f.alice.getSender(), {
      ...f.signed(entry(f.alice.address), f.alice.address),
      value: toNano("0.1"),
    });
    const mine = f.entryOf(f.alice.address);
    await refused(mine, RegistryError.NoStake, () =>
      mine.sendWithdrawStake(f.alice.getSender(), { value: toNano("0.05") }),
    );
  });
});

describe("Registry stake, registration time and their getters", () => {
  it("records when the identity key was registered: an update keeps it, a new key restarts it", async () => {
    const e = entry(f.alice.address);
    await f.registry.sendRegister(f.alice.getSender(), {
      ...f.signed(e, f.alice.address),
      value: toNano("0.1"),
    });
    const mine = f.entryOf(f.alice.address);
    expect(await mine.getRegisteredAt()).toBe(T0);
    expect((await mine.getEntry())?.registeredAt).toBe(T0);

    f.blockchain.now = T0 + 1000;
    await mine.sendUpdate(f.alice.getSender(), {
      ...f.signed({ ...e, models: [] }, f.alice.address),
      value: toNano("0.05"),
    });
    await f.registry.sendRegister(f.alice.getSender(), {
      ...f.signed(e, f.alice.address),
      value: toNano("0.1"),
    });
    expect(await mine.getRegisteredAt()).toBe(T0);

    f.blockchain.now = T0 + 2000;
    await mine.sendUpdate(f.alice.getSender(), {
      ...f.signed(entry(f.alice.address), f.alice.address),
      value: toNano("0.05"),
    });
    expect(await mine.getRegisteredAt()).toBe(T0 + 2000);
  });

  it("a stake is locked in the entry, readable, and the excess comes back", async () => {
    await f.registry.sendRegister(f.alice.getSender(), {
      ...f.signed(entry(f.alice.address), f.alice.address),
      value: toNano("0.1"),
    });
    const mine = f.entryOf(f.alice.address);
    expect(await mine.getStake()).toEqual({ stake: 0n, unlockAt: 0 });
    const r = await mine.sendAddStake(f.alice.getSender(), { amount: STAKE, value: STAKE + toNano("1") });
    const tx = expectSuccess(r.transactions, mine.address);
    expect(firstOutValue(tx).value).toBeGreaterThan(toNano("0.99"));
    expect(await mine.getStake()).toEqual({ stake: STAKE, unlockAt: 0 });
    expect(await f.balance(mine.address)).toBe(ENTRY_RESERVE + STAKE);
    await mine.sendAddStake(f.alice.getSender(), { amount: 1n, value: toNano("0.05") });
    const got = await mine.getEntry();
    expect(got?.stake).toBe(STAKE + 1n);
    expect(got?.unlockAt).toBe(0);
    expect(await f.balance(mine.address)).toBe(ENTRY_RESERVE + STAKE + 1n);
  });

  it("leaving unpublishes the entry at once and keeps the stake until the unlock delay has passed", async () => {
    const { mine } = await staked();
    f.blockchain.now = T0 + 10;
    const r = await mine.sendRemove(f.alice.getSender(), { value: toNano("0.05") });
    expectSuccess(r.transactions, mine.address);
    expect(await mine.getEntry()).toBeUndefined();
    expect(await mine.getRegisteredAt()).toBe(0);
    expect(await mine.getStake()).toEqual({ stake: STAKE, unlockAt: T0 + 10 + Number(UNLOCK_DELAY) });
    expect(await f.balance(mine.address)).toBe(ENTRY_RESERVE + STAKE);

    f.blockchain.now = T0 + 10 + Number(UNLOCK_DELAY);
    const before = await f.balance(f.alice.address);
    const w = await mine.sendWithdrawStake(f.alice.getSender(), { value: toNano("0.05") });
    expectSuccess(w.transactions, mine.address);
    expect((await f.blockchain.getContract(mine.address)).accountState).toBeUndefined();
    // Stake and reserve back, less this transaction's fees.
    expect((await f.balance(f.alice.address)) - before).toBeGreaterThan(
      STAKE + ENTRY_RESERVE - toNano("0.01"),
    );
  });

  it("registering again while the stake unlocks locks it again, with a fresh registration time", async () => {
    const { mine } = await staked();
    await mine.sendRemove(f.alice.getSender(), { value: toNano("0.05") });
    f.blockchain.now = T0 + 500;
    const r = await f.registry.sendRegister(f.alice.getSender(), {
      ...f.signed(entry(f.alice.address), f.alice.address),
      value: toNano("0.1"),
    });
    expectSuccess(r.transactions, mine.address);
    expect(await mine.getStake()).toEqual({ stake: STAKE, unlockAt: 0 });
    expect(await mine.getRegisteredAt()).toBe(T0 + 500);
    expect(await f.balance(mine.address)).toBe(ENTRY_RESERVE + STAKE);
  });
});
