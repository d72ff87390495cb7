import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLICIES,
  fitsHint,
  NO_POLICY,
  type PolicyRefusal,
  policyFor,
  policyHint,
  policyRefusal,
  type TrustPolicy,
} from "../../protocol/trust-policy";

const A = "a".repeat(64);
const B = "b".repeat(64);
const NOW = 1_800_000_000;
const TON = 1_000_000_000n;

describe("policyRefusal: a provider's on-chain standing against the requester's policy", () => {
  const cases: [
    string,
    Partial<TrustPolicy>,
    { stake: bigint; age: number; key?: string },
    PolicyRefusal | undefined,
  ][] = [
    ["no policy takes anyone registered", {}, { stake: 0n, age: 0 }, undefined],
    ["stake at the minimum", { minStake: TON }, { stake: TON, age: 0 }, undefined],
    ["stake one nanoTON below", { minStake: TON }, { stake: TON - 1n, age: 0 }, "STAKE"],
    ["age at the minimum", { minAgeSeconds: 3600 }, { stake: 0n, age: 3600 }, undefined],
    ["age one second short", { minAgeSeconds: 3600 }, { stake: 0n, age: 3599 }, "AGE"],
    ["on the allow-list", { allow: [A] }, { stake: 0n, age: 0 }, undefined],
    ["off the allow-list", { allow: [B] }, { stake: 0n, age: 0 }, "NOT_ALLOWED"],
    ["blocked", { block: [A] }, { stake: 10n * TON, age: 10_000 }, "BLOCKED"],
    ["blocked wins over allowed", { allow: [A], block: [A] }, { stake: 0n, age: 0 }, "BLOCKED"],
    ["allowed but below the stake", { allow: [A], minStake: TON }, { stake: 0n, age: 0 }, "STAKE"],
    ["keys compare case-insensitively", { block: [A.toUpperCase()] }, { stake: 0n, age: 0 }, "BLOCKED"],
  ];
  it.each(cases)("%s", (_name, policy, p, expected) => {
    const standing = { identityKey: p.key ?? A, stake: p.stake, registeredAt: NOW - p.age };
    expect(policyRefusal(standing, { ...NO_POLICY, ...policy }, NOW)?.reason).toBe(expected);
  });

  it("a provider that never registered (time 0) fails any minimum age", () => {
    expect(
      policyRefusal({ identityKey: A, stake: 0n, registeredAt: 0 }, { ...NO_POLICY, minAgeSeconds: 1 }, NOW)
        ?.reason,
    ).toBe("AGE");
  });
});

describe("policy defaults and the hint the server is told", () => {
  it("devnet asks nothing; testnet and mainnet a small stake", () => {
    expect(DEFAULT_POLICIES.devnet).toEqual(NO_POLICY);
    expect(DEFAULT_POLICIES.testnet.minStake).toBe(TON);
    expect(DEFAULT_POLICIES.mainnet.minStake).toBe(TON);
    expect(policyFor("mainnet", { minStake: 0n, allow: [A] })).toEqual({ ...NO_POLICY, allow: [A] });
  });

  it("the hint carries stake, age and the allow-list, never the block-list", () => {
    const hint = policyHint({ minStake: TON, minAgeSeconds: 60, allow: [A], block: [B] });
    expect(hint).toEqual({ minStake: TON, minAgeSeconds: 60, allow: [A] });
    expect(JSON.stringify(hint, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(B);
    expect(policyHint(NO_POLICY)).toEqual({ minStake: 0n, minAgeSeconds: 0 });
  });

  it("the server's filter follows the same rules on what providers declared", () => {
    const hint = { minStake: TON, minAgeSeconds: 60, allow: [A] };
    expect(fitsHint({ identityKey: A, stake: TON, registeredAt: NOW - 60 }, hint, NOW)).toBe(true);
    expect(fitsHint({ identityKey: B, stake: TON, registeredAt: NOW - 60 }, hint, NOW)).toBe(false);
    expect(fitsHint({ identityKey: A, stake: TON - 1n, registeredAt: NOW - 60 }, hint, NOW)).toBe(false);
    expect(fitsHint({ identityKey: A, stake: TON, registeredAt: NOW - 59 }, hint, NOW)).toBe(false);
  });
});
