import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { encodePublicKey, flatPrice, generateKeyPair, type ModelPrice, signQuote } from "../../protocol";
import type { ShownQuote } from "../../protocol/schemas/session";
import { honouredPrice } from "../../provider/serving/honoured-quote";

const me = generateKeyPair();
const PAYOUT = `0:${"11".repeat(32)}`;
const NOW = 1_800_000_000_000;
const own = { identityKey: me.publicKey, payout: Address.parse(PAYOUT) };
const served = { model: "m", price: flatPrice(50n) };

/** A quote as a grant carried it, signed by `key` over exactly these terms. */
function quote(o: Partial<ShownQuote> & { key?: typeof me; signedPrice?: ModelPrice } = {}): ShownQuote {
  const key = o.key ?? me;
  const terms = {
    model: o.model ?? "m",
    price: o.price ?? flatPrice(10n),
    payout: o.payout ?? PAYOUT,
    expiresAt: o.expiresAt ?? NOW + 60_000,
    ...(o.owner && { owner: o.owner }),
  };
  const signature = signQuote(key.secretKey, {
    ...terms,
    price: o.signedPrice ?? terms.price,
    identityKey: encodePublicKey(key.publicKey),
  });
  return { ...terms, signature };
}

describe("honouredPrice: a provider honours its own unexpired quote below its price now", () => {
  it("serves at its own earlier, lower quote", () => {
    expect(honouredPrice(served, quote(), own, NOW)).toEqual(flatPrice(10n));
  });
  it("its price now when nothing is shown, or what is shown is no lower", () => {
    expect(honouredPrice(served, undefined, own, NOW)).toBe(served.price);
    expect(honouredPrice(served, quote({ price: flatPrice(80n) }), own, NOW)).toBe(served.price);
  });
  it("ignores a quote that is not its own word as it stands", () => {
    const other = generateKeyPair();
    const shown: [string, ShownQuote][] = [
      ["expired", quote({ expiresAt: NOW })],
      ["another key's", quote({ key: other })],
      ["another model's", quote({ model: "other" })],
      ["a price altered after signing", quote({ price: flatPrice(1n), signedPrice: flatPrice(10n) })],
      ["for another payout address", quote({ payout: `0:${"22".repeat(32)}` })],
    ];
    for (const [why, q] of shown)
      expect([why, honouredPrice(served, q, own, NOW)]).toEqual([why, served.price]);
  });
  it("the same payout address in another form is its own (the signature covers the text it signed)", () => {
    const friendly = Address.parse(PAYOUT).toString();
    expect(honouredPrice(served, quote({ payout: friendly }), own, NOW)).toEqual(flatPrice(10n));
  });
});
