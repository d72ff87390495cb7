import { type Address, toNano } from "@ton/core";
import type { SandboxContract, TreasuryContract } from "@ton/sandbox";
import { describe, expect, it } from "vitest";
import { RegistryError } from "../../contracts/generated/constants";
import { type KeyProof, type ProviderEntry, signKeyProof } from "../../contracts/wrappers/registry";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID } from "../../protocol/receipt";
import { expectExit, expectSuccess } from "./helpers";
import {
  entry,
  freshRegistryForEachTest,
  type RegistryFixture,
  registryFixture,
  secretOf,
  T0,
} from "./registry-fixture";

/**
 * Only the holder of an identity key publishes it: a registration (and an update) carries the
 * key's signature over (registry, owner, valid_until). A provider copying another's key into an
 * entry of its own, or replaying the signature the honest provider gave its own wallet, is
 * refused before anything is deployed.
 */
let f: RegistryFixture;
freshRegistryForEachTest((fixture) => {
  f = fixture;
});

/** Whether `owner` has an entry published (and with which identity key). */
async function published(owner: Address): Promise<Uint8Array | undefined> {
  return (await f.entryOf(owner).getEntry())?.entry.identityKey;
}

/** The key proof of `e`'s identity key for `owner` in `registry`, valid until `validUntil`. */
function proofFor(
  e: ProviderEntry,
  o: { owner: Address; registry?: Address; validUntil?: number; globalId?: number },
) {
  const secret = secretOf(e);
  if (!secret) throw new Error("not a key entry() made");
  return signKeyProof(secret, {
    globalId: o.globalId ?? NETWORK_ID.mainnet,
    registry: o.registry ?? f.registry.address,
    owner: o.owner,
    validUntil: o.validUntil ?? T0 + 600,
  });
}

/** `who` registers `e` with `proof` (by default its identity key's, for `who` in this registry). */
function register(
  who: SandboxContract<TreasuryContract>,
  e: ProviderEntry,
  proof: KeyProof = proofFor(e, { owner: who.address }),
) {
  return f.registry.sendRegister(who.getSender(), { entry: e, proof, value: toNano("0.1") });
}

describe("Registry: only an identity key's holder publishes it", () => {
  it("an honest registration, signed by its key for this registry and owner, is published", async () => {
    const honest = entry(f.alice.address);
    const r = await register(f.alice, honest);
    expectSuccess(r.transactions, f.entryOf(f.alice.address).address);
    expect(await published(f.alice.address)).toEqual(honest.identityKey);
  });

  it("a copy of another provider's key, signed by the copier, is refused BadKeyProof and nothing is deployed", async () => {
    const honest = entry(f.alice.address);
    await register(f.alice, honest);
    const copy: ProviderEntry = { ...honest, payout: f.mallory.address };
    const before = await f.balance(f.mallory.address);
    const r = await register(
      f.mallory,
      copy,
      signKeyProof(generateKeyPair().secretKey, {
        globalId: NETWORK_ID.mainnet,
        registry: f.registry.address,
        owner: f.mallory.address,
        validUntil: T0 + 600,
      }),
    );
    expectExit(r.transactions, f.registry.address, RegistryError.BadKeyProof);
    expect(await published(f.mallory.address)).toBeUndefined();
    // The refused registration bounced its value back, less the fees.
    expect(before - (await f.balance(f.mallory.address))).toBeLessThan(toNano("0.01"));
  });

  it("the honest provider's own signature replayed by another owner, or made for another registry, fails", async () => {
    const honest = entry(f.alice.address);
    const alicesProof = proofFor(honest, { owner: f.alice.address });
    // Read off the chain from the honest registration, then sent by mallory for her own entry.
    await register(f.alice, honest, alicesProof);
    let r = await register(f.mallory, { ...honest, payout: f.mallory.address }, alicesProof);
    expectExit(r.transactions, f.registry.address, RegistryError.BadKeyProof);
    expect(await published(f.mallory.address)).toBeUndefined();

    // Signed for mallory, but for another registry (a testnet one, say): not valid here.
    const other = entry(f.mallory.address);
    r = await register(
      f.mallory,
      other,
      proofFor(other, { owner: f.mallory.address, registry: f.alice.address }),
    );
    expectExit(r.transactions, f.registry.address, RegistryError.BadKeyProof);

    // Any field of the proof changed after signing: valid_until pushed later.
    r = await register(f.alice, honest, { ...alicesProof, validUntil: alicesProof.validUntil + 1 });
    expectExit(r.transactions, f.registry.address, RegistryError.BadKeyProof);
  });

  it("a proof made for testnet, replayed on mainnet at the same registry address, is refused BadKeyProof", async () => {
    // The same code and data deploy the Registry at the same address on both networks, and the
    // same wallet seed is the same owner address: only the network tells the two apart.
    const testnet = await registryFixture({ globalId: NETWORK_ID.testnet });
    expect(testnet.registry.address.equals(f.registry.address)).toBe(true);
    expect(testnet.alice.address.equals(f.alice.address)).toBe(true);
    const honest = entry(f.alice.address);
    const testnetProof = proofFor(honest, { owner: f.alice.address, globalId: NETWORK_ID.testnet });
    let r = await testnet.registry.sendRegister(testnet.alice.getSender(), {
      entry: honest,
      proof: testnetProof,
      value: toNano("0.1"),
    });
    expectSuccess(r.transactions, testnet.entryOf(f.alice.address).address);

    // Read off testnet and sent on mainnet within its validity: the key never consented to that.
    r = await register(f.alice, honest, testnetProof);
    expectExit(r.transactions, f.registry.address, RegistryError.BadKeyProof);
    expect(await published(f.alice.address)).toBeUndefined();

    // Signed for mainnet, the same key and owner are published there.
    r = await register(
      f.alice,
      honest,
      proofFor(honest, { owner: f.alice.address, globalId: NETWORK_ID.mainnet }),
    );
    expectSuccess(r.transactions, f.entryOf(f.alice.address).address);
    expect(await published(f.alice.address)).toEqual(honest.identityKey);
  });

  it("a proof past its valid_until is refused KeyProofExpired, even for the key's own owner", async () => {
    const honest = entry(f.alice.address);
    const proof = proofFor(honest, { owner: f.alice.address, validUntil: T0 + 60 });
    f.blockchain.now = T0 + 61;
    const r = await register(f.alice, honest, proof);
    expectExit(r.transactions, f.registry.address, RegistryError.KeyProofExpired);
    expect(await published(f.alice.address)).toBeUndefined();
  });

  it("an update to another provider's key is refused; to a key the owner holds, published", async () => {
    const honest = entry(f.alice.address);
    const alicesProof = proofFor(honest, { owner: f.alice.address });
    await register(f.alice, honest, alicesProof);
    const own = entry(f.mallory.address);
    await register(f.mallory, own);
    const hers = f.entryOf(f.mallory.address);
    let r = await hers.sendUpdate(f.mallory.getSender(), {
      entry: { ...honest, payout: f.mallory.address },
      proof: alicesProof,
      value: toNano("0.05"),
    });
    expectExit(r.transactions, hers.address, RegistryError.BadKeyProof);
    expect(await published(f.mallory.address)).toEqual(own.identityKey);

    const next = entry(f.mallory.address);
    r = await hers.sendUpdate(f.mallory.getSender(), {
      entry: next,
      proof: proofFor(next, { owner: f.mallory.address }),
      value: toNano("0.05"),
    });
    expectSuccess(r.transactions, hers.address);
    expect(await published(f.mallory.address)).toEqual(next.identityKey);
  });
});
