import { type Address, beginCell, Dictionary, toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { RegistryError, RegistryOp, RegistryParams } from "../../contracts/generated/constants";
import { modelHash, ProviderEntryContract, storeEntryInit } from "../../contracts/wrappers/registry";
import { generateKeyPair } from "../../protocol/identity";
import { flatPrice } from "../../protocol/pricing";
import { expectExit, expectSuccess, firstOutValue, txOn } from "./helpers";
import { entry, freshRegistryForEachTest, type RegistryFixture, T0 } from "./registry-fixture";

let f: RegistryFixture;
let blockchain: RegistryFixture["blockchain"];
let registry: RegistryFixture["registry"];
let alice: RegistryFixture["alice"];
let mallory: RegistryFixture["mallory"];
let entryCode: RegistryFixture["entryCode"];

freshRegistryForEachTest((fixture) => {
  f = fixture;
  ({ blockchain, registry, alice, mallory, entryCode } = f);
});

const entryOf = (owner: Address) => f.entryOf(owner);

describe("Registry", () => {
  it("a registration deploys the owner's entry, with every field readable, and returns the excess", async () => {
    const e = entry(alice.address, [
      { modelId: "Llama-3.2-1B-Instruct-q4f16_1-MLC", price: flatPrice(2000n) },
      {
        modelId: "Qwen2.5-7B",
        price: { nanoPerToken: 9000n, promptMultiplierBps: 5000, completionMultiplierBps: 20000 },
      },
    ]);
    const r = await registry.sendRegister(alice.getSender(), {
      ...f.signed(e, alice.address),
      value: toNano("1"),
    });
    const address = await registry.getEntryAddress(alice.address);
    expect(address.equals(ProviderEntryContract.addressFor(entryCode, registry.address, alice.address))).toBe(
      true,
    );
    const deployTx = expectSuccess(r.transactions, address);
    const excess = firstOutValue(deployTx);
    expect(excess.dest.equals(alice.address)).toBe(true);
    expect(excess.value).toBeGreaterThan(toNano("0.9"));
    expect((await blockchain.getContract(address)).balance).toBe(RegistryParams.ENTRY_RESERVE);

    const got = await entryOf(alice.address).getEntry();
    expect(got?.owner.equals(alice.address)).toBe(true);
    expect(got?.registry.equals(registry.address)).toBe(true);
    expect(got?.entry.identityKey).toEqual(e.identityKey);
    expect(got?.entry.payout.equals(alice.address)).toBe(true);
    expect([...(got?.entry.models ?? [])].sort((a, b) => a.modelId.localeCompare(b.modelId))).toEqual(
      [...e.models].sort((a, b) => a.modelId.localeCompare(b.modelId)),
    );
    expect(await entryOf(alice.address).getModelPrice("Qwen2.5-7B")).toEqual(e.models[1]!.price);
    expect(await entryOf(alice.address).getModelPrice("nope")).toBeUndefined();
    expect(await registry.getRegisteredCount()).toBe(1);
  });

  it("only the owner updates or removes its entry", async () => {
    await registry.sendRegister(alice.getSender(), {
      ...f.signed(entry(alice.address), alice.address),
      value: toNano("0.1"),
    });
    const mine = entryOf(alice.address);
    let r = await mine.sendUpdate(mallory.getSender(), {
      ...f.signed(entry(mallory.address), mallory.address),
      value: toNano("0.05"),
    });
    expectExit(r.transactions, mine.address, RegistryError.NotOwner);
    r = await mine.sendRemove(mallory.getSender(), { value: toNano("0.05") });
    expectExit(r.transactions, mine.address, RegistryError.NotOwner);

    const updated = entry(mallory.address, [{ modelId: "Phi-3.5-mini", price: flatPrice(1n) }]);
    r = await mine.sendUpdate(alice.getSender(), {
      ...f.signed(updated, alice.address),
      value: toNano("0.05"),
    });
    expectSuccess(r.transactions, mine.address);
    expect((await mine.getEntry())?.entry.payout.equals(mallory.address)).toBe(true);
    expect(await mine.getModelPrice("Phi-3.5-mini")).toEqual(flatPrice(1n));
    expect(await mine.getModelPrice("Llama-3.2-1B-Instruct-q4f16_1-MLC")).toBeUndefined();

    const before = (await blockchain.getContract(alice.address)).balance;
    r = await mine.sendRemove(alice.getSender(), { value: toNano("0.05") });
    expectSuccess(r.transactions, mine.address);
    expect((await blockchain.getContract(mine.address)).accountState).toBeUndefined();
    expect(await mine.getEntry()).toBeUndefined();
    // The entry's reserve came back with the message value, less fees.
    expect((await blockchain.getContract(alice.address)).balance - before).toBeGreaterThan(
      RegistryParams.ENTRY_RESERVE - toNano("0.01"),
    );

    r = await registry.sendRegister(alice.getSender(), {
      ...f.signed(entry(alice.address), alice.address),
      value: toNano("0.1"),
    });
    expectSuccess(r.transactions, mine.address);
    expect(await mine.getModelPrice("Llama-3.2-1B-Instruct-q4f16_1-MLC")).toEqual(flatPrice(2000n));
  });

  it("refuses registrations outside the limits, before deploying anything", async () => {
    let r = await registry.sendRegister(alice.getSender(), {
      ...f.signed(entry(alice.address), alice.address),
      value: RegistryParams.MIN_REGISTER_VALUE - 1n,
    });
    expectExit(r.transactions, registry.address, RegistryError.NotEnoughValue);
    const many = Array.from({ length: Number(RegistryParams.MAX_MODELS) + 1 }, (_, i) => ({
      modelId: `m${i}`,
      price: flatPrice(1n),
    }));
    r = await registry.sendRegister(alice.getSender(), {
      ...f.signed(entry(alice.address, many), alice.address),
      value: toNano("1"),
    });
    expectExit(r.transactions, registry.address, RegistryError.TooManyModels);
    r = await registry.sendRegister(alice.getSender(), {
      ...f.signed({ ...entry(alice.address), identityKey: new Uint8Array(32) }, alice.address),
      value: toNano("1"),
    });
    expectExit(r.transactions, registry.address, RegistryError.BadIdentityKey);

    // A price above the limit cannot be built by the wrapper (checkPrice), so build it by hand.
    const offer = beginCell()
      .storeCoins(RegistryParams.MAX_PRICE_NANO + 1n)
      .storeUint(10_000, 32)
      .storeUint(10_000, 32)
      .storeRef(beginCell().storeStringTail("x").endCell());
    const models = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell());
    models.set(modelHash("x"), offer.endCell());
    const raw = beginCell()
      .storeBuffer(Buffer.from(generateKeyPair().publicKey))
      .storeAddress(alice.address)
      .storeDict(models, Dictionary.Keys.BigUint(256), {
        serialize: (c, b) => b.storeSlice(c.beginParse()),
        parse: () => beginCell().endCell(),
      });
    r = await alice.send({
      to: registry.address,
      value: toNano("1"),
      body: beginCell()
        .storeUint(RegistryOp.Register, 32)
        .storeUint(0, 64)
        .storeRef(raw.endCell())
        .storeBuffer(Buffer.alloc(64))
        .storeUint(T0 + 3600, 32)
        .endCell(),
    });
    expectExit(r.transactions, registry.address, RegistryError.BadPrice);
    const untouched = await blockchain.getContract(entryOf(alice.address).address);
    expect(untouched.accountState?.type ?? "none").not.toBe("active");
    expect(untouched.balance).toBe(0n);
  });

  it("an entry takes its first data only from the registry", async () => {
    // Anyone may deploy the empty entry (its address is public), but cannot fill it.
    const target = entryOf(alice.address);
    const data = beginCell().store(storeEntryInit(registry.address, alice.address)).endCell();
    const init = beginCell()
      .storeBuffer(Buffer.from(generateKeyPair().publicKey))
      .storeAddress(mallory.address)
      .storeDict(null)
      .endCell();
    let r = await mallory.send({
      to: target.address,
      value: toNano("0.1"),
      init: { code: entryCode, data },
      body: beginCell().storeUint(RegistryOp.InitEntry, 32).storeUint(0, 64).storeRef(init).endCell(),
    });
    expectExit(r.transactions, target.address, RegistryError.NotRegistry);
    r = await mallory.send({ to: target.address, value: toNano("0.1"), init: { code: entryCode, data } });
    expectSuccess(r.transactions, target.address);
    r = await target.sendUpdate(alice.getSender(), {
      ...f.signed(entry(alice.address), alice.address),
      value: toNano("0.05"),
    });
    expectExit(r.transactions, target.address, RegistryError.NotRegistered);
  });

  it("keeps no per-provider state: its own data does not grow with registrations", async () => {
    const size = async () =>
      (await blockchain.getContract(registry.address)).account.account!.storageStats.used.bits;
    const before = await size();
    for (let i = 0; i < 5; i++) {
      const who = await blockchain.treasury(`p${i}`);
      const r = await registry.sendRegister(who.getSender(), {
        ...f.signed(entry(who.address), who.address),
        value: toNano("0.1"),
      });
      expectSuccess(r.transactions, entryOf(who.address).address);
      txOn(r.transactions, who.address);
    }
    expect(await registry.getRegisteredCount()).toBe(5);
    expect(await size()).toBe(before);
  });
});
