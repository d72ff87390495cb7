import { describe, expect, it } from "vitest";
import {
  encodePublicKey,
  flatPrice,
  generateKeyPair,
  type QuoteTerms,
  quoteFault,
  signQuote,
} from "../../protocol";

const provider = generateKeyPair();
const other = generateKeyPair();
const NOW = 1_800_000_000_000;
const terms: QuoteTerms = {
  identityKey: encodePublicKey(provider.publicKey),
  payout: `0:${"11".repeat(32)}`,
  model: "test-model",
  price: flatPrice(10n),
  expiresAt: NOW + 60_000,
};
const signature = signQuote(provider.secretKey, terms);
const owned: QuoteTerms = { ...terms, owner: `0:${"22".repeat(32)}` };
const ownedSignature = signQuote(provider.secretKey, owned);

describe("a provider's signed quote, checked against a grant's terms", () => {
  it.each([
    ["the terms it signed", terms, { signature }, undefined],
    ["no quote at all", terms, undefined, "carries no signed quote"],
    ["a lowered price", { ...terms, price: flatPrice(1n) }, { signature }, "did not sign"],
    ["another payout", { ...terms, payout: `0:${"66".repeat(32)}` }, { signature }, "did not sign"],
    ["another model", { ...terms, model: "other-model" }, { signature }, "did not sign"],
    ["a later expiry", { ...terms, expiresAt: terms.expiresAt + 1 }, { signature }, "did not sign"],
    [
      "another provider's key",
      { ...terms, identityKey: encodePublicKey(other.publicKey) },
      { signature },
      "did not sign",
    ],
    ["a signature that is not hex", terms, { signature: "zz" }, "did not sign"],
    ["the Registry entry it signed", owned, { signature: ownedSignature }, undefined],
    [
      "another Registry entry",
      { ...owned, owner: `0:${"33".repeat(32)}` },
      { signature: ownedSignature },
      "did not sign",
    ],
    ["its Registry entry left out", terms, { signature: ownedSignature }, "did not sign"],
    ["a Registry entry added", owned, { signature }, "did not sign"],
    [
      "an expired quote",
      { ...terms, expiresAt: NOW },
      { signature: signQuote(provider.secretKey, { ...terms, expiresAt: NOW }) },
      "expired",
    ],
  ] as const)("%s", (_name, t, quote, fault) => {
    const found = quoteFault(t, quote, NOW);
    if (fault === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(fault);
  });
});
