import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { checkProvider } from "../../client/sdk/provider-trust";
import type { RegistryReader, RegistryRecord } from "../../contracts/wrappers/registry-reader";
import {
  PolicyRefusedError,
  RegistryMismatchError,
  RegistryUnavailableError,
  UnregisteredProviderError,
  UntrustedProviderError,
} from "../../protocol/errors";
import { encodePublicKey, generateKeyPair } from "../../protocol/identity";
import { NO_POLICY } from "../../protocol/trust-policy";

// The check's decisions over a table of Registry answers; the Registry read on a real chain is
// exercised in tests/peer/registry-trust.test.ts.
const identity = generateKeyPair().publicKey;
const key = encodePublicKey(identity);
const owner = Address.parse(`0:${"11".repeat(32)}`);
const payout = Address.parse(`0:${"22".repeat(32)}`);
const NOW_MS = 1_800_000_000_000;
const record: RegistryRecord = { identityKey: identity, payout, stake: 5n, registeredAt: 1_700_000_000 };

function reader(answer: RegistryRecord | undefined | Error): RegistryReader & { reads: number } {
  const r = {
    reads: 0,
    async read(o: Address) {
      r.reads++;
      expect(o.equals(owner)).toBe(true);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return r;
}

const named = { identityKey: key, payout: payout.toString(), owner: owner.toString() };

describe("checkProvider: the Registry, then the policy, before anything is sent", () => {
  it("returns the standing the chain gives when everything matches", async () => {
    const s = await checkProvider(named, reader(record), NO_POLICY, NOW_MS);
    expect(s).toMatchObject({ identityKey: key, stake: 5n, registeredAt: 1_700_000_000 });
  });

  it.each([
    ["no owner named", { ...named, owner: undefined }, record, UnregisteredProviderError],
    ["an owner that is not an address", { ...named, owner: "nonsense" }, record, UnregisteredProviderError],
    ["no entry published", named, undefined, UnregisteredProviderError],
    [
      "another identity key on chain",
      named,
      { ...record, identityKey: generateKeyPair().publicKey },
      RegistryMismatchError,
    ],
    ["another payout on chain", named, { ...record, payout: owner }, RegistryMismatchError],
    ["the chain cannot be read", named, new Error("503"), RegistryUnavailableError],
  ] as const)("%s is refused", async (_name, n, answer, type) => {
    const err = await checkProvider(n, reader(answer), NO_POLICY, NOW_MS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect(err).toBeInstanceOf(UntrustedProviderError);
    expect((err as UntrustedProviderError).identityKey).toBe(key);
  });

  it("a blocked or not-allowed key is refused without reading the chain", async () => {
    for (const policy of [
      { ...NO_POLICY, block: [key] },
      { ...NO_POLICY, allow: ["c".repeat(64)] },
    ]) {
      const r = reader(record);
      const err = await checkProvider(named, r, policy, NOW_MS).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PolicyRefusedError);
      expect(r.reads).toBe(0);
    }
  });

  it("stake and age are judged on what the chain says", async () => {
    const low = await checkProvider(named, reader(record), { ...NO_POLICY, minStake: 6n }, NOW_MS).catch(
      (e: unknown) => e,
    );
    expect((low as PolicyRefusedError).reason).toBe("STAKE");
    const young = await checkProvider(
      named,
      reader({ ...record, registeredAt: NOW_MS / 1000 - 10 }),
      { ...NO_POLICY, minAgeSeconds: 60 },
      NOW_MS,
    ).catch((e: unknown) => e);
    expect((young as PolicyRefusedError).reason).toBe("AGE");
  });
});
