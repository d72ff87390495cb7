import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  billablePromptTokens,
  checkPrice,
  comparePrices,
  completionBytesOf,
  costOf,
  decodePublicKey,
  decodeSecretKey,
  encodePublicKey,
  encodeSecretKey,
  flatPrice,
  formatTon,
  generateKeyPair,
  InvalidKeyError,
  maxCompletionTokens,
  maxPromptTokens,
  PriceError,
  perTokenPrice,
  priceFits,
  SPECIAL_TOKENS_PER_ANSWER,
  sign,
  verify,
} from "../../protocol";

describe("identity keys", () => {
  it("signs and verifies; the text form round-trips", () => {
    const k = generateKeyPair();
    const msg = new TextEncoder().encode("challenge");
    const sig = sign(k.secretKey, msg);
    expect(verify(k.publicKey, msg, sig)).toBe(true);
    expect(verify(generateKeyPair().publicKey, msg, sig)).toBe(false);
    const text = encodePublicKey(k.publicKey);
    expect(text).toMatch(/^[0-9a-f]{64}$/);
    expect(decodePublicKey(text)).toEqual(k.publicKey);
    expect(decodeSecretKey(encodeSecretKey(k.secretKey)).publicKey).toEqual(k.publicKey);
  });

  it("refuses malformed and off-curve keys with InvalidKeyError", () => {
    for (const bad of ["", "zz".repeat(32), "AB".repeat(32), "ab".repeat(31), "ff".repeat(32)]) {
      expect(() => decodePublicKey(bad)).toThrow(InvalidKeyError);
    }
    expect(() => decodeSecretKey("1234")).toThrow(InvalidKeyError);
  });

  it("verify never throws on malformed input (property-based)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 70 }), (key, sig) => {
        expect(verify(key, new Uint8Array(1), sig)).toBe(false);
      }),
    );
  });
});

describe("prices", () => {
  const price = { nanoPerToken: 100n, promptMultiplierBps: 5_000, completionMultiplierBps: 20_000 };

  it("compares effective prices exactly, in bigint", () => {
    expect(priceFits(price, { promptNanoPerToken: 50n, completionNanoPerToken: 200n })).toBe(true);
    expect(priceFits(price, { promptNanoPerToken: 49n, completionNanoPerToken: 200n })).toBe(false);
    expect(priceFits(price, { promptNanoPerToken: 50n, completionNanoPerToken: 199n })).toBe(false);
    expect(comparePrices(flatPrice(1n), flatPrice(2n))).toBe(-1);
    expect(comparePrices(price, price)).toBe(0);
  });

  it("names the effective price per token rounded up: the lowest maxPrice that fits (property-based)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (nanoPerToken, promptMultiplierBps, completionMultiplierBps) => {
          const p = { nanoPerToken, promptMultiplierBps, completionMultiplierBps };
          const least = perTokenPrice(p);
          expect(priceFits(p, least)).toBe(true);
          if (least.promptNanoPerToken > 0n)
            expect(priceFits(p, { ...least, promptNanoPerToken: least.promptNanoPerToken - 1n })).toBe(false);
          if (least.completionNanoPerToken > 0n)
            expect(
              priceFits(p, { ...least, completionNanoPerToken: least.completionNanoPerToken - 1n }),
            ).toBe(false);
        },
      ),
    );
  });

  it("costs a usage once, rounded down, never by float", () => {
    expect(costOf({ promptTokens: 3, completionTokens: 7 }, price)).toBe(150n + 1400n);
    expect(costOf({ promptTokens: 1, completionTokens: 0 }, { ...price, nanoPerToken: 1n })).toBe(0n);
    expect(costOf({ promptTokens: 2, completionTokens: 0 }, { ...price, nanoPerToken: 1n })).toBe(1n);
    expect(formatTon(1_500_000_000n)).toBe("1.5");
    expect(formatTon(1n)).toBe("0.000000001");
  });

  it("cost is monotonic and additive within rounding (property-based)", () => {
    fc.assert(
      fc.property(
        fc.nat(100_000),
        fc.nat(100_000),
        fc.nat(100_000),
        fc.bigInt(0n, 10n ** 6n),
        (p, c, extra, nano) => {
          const pr = { ...price, nanoPerToken: nano };
          const a = costOf({ promptTokens: p, completionTokens: c }, pr);
          const b = costOf({ promptTokens: p, completionTokens: c + extra }, pr);
          expect(b >= a).toBe(true);
        },
      ),
    );
  });

  it("refuses out-of-range prices", () => {
    expect(() => checkPrice({ ...price, nanoPerToken: -1n })).toThrow(PriceError);
    expect(() => checkPrice({ ...price, promptMultiplierBps: 1.5 })).toThrow(PriceError);
  });
});

describe("token accounting", () => {
  it("bounds prompt tokens by bytes plus the template allowance", () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "héllo" },
    ] as const;
    expect(maxPromptTokens({ messages })).toBe(32 + (6 + 8 + 8) + (4 + 6 + 8));
    expect(billablePromptTokens(10, { messages })).toBe(10);
    expect(billablePromptTokens(10_000, { messages })).toBe(maxPromptTokens({ messages }));
  });

  it("counts what else reaches the prompt: parts, names, tool calls and results, tools, schemas", () => {
    const plain = maxPromptTokens({ messages: [{ role: "user", content: "ab" }] });
    const parts = maxPromptTokens({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "ab" },
            { type: "text", text: "cd" },
          ],
        },
      ],
    });
    expect(parts).toBe(plain + 3); // "cd" and the newline joining the parts
    const call = { id: "c1", type: "function", function: { name: "f", arguments: '{"x":1}' } } as const;
    const withCalls = maxPromptTokens({
      messages: [
        { role: "user", content: "ab" },
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", content: "42", tool_call_id: "c1" },
      ],
    });
    expect(withCalls).toBe(plain + ("assistant".length + 2 + 1 + 7 + 8) + ("tool".length + 2 + 2 + 8));
    const tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] as const;
    expect(maxPromptTokens({ messages: [{ role: "user", content: "ab" }], tools: [...tools] })).toBe(
      plain + JSON.stringify(tools).length + 8,
    );
  });

  it("counts a streamed piece's bytes: its text and its tool-call name and arguments", () => {
    expect(completionBytesOf("", [{ index: 0, function: { name: "get", arguments: '{"a":' } }])).toBe(8);
    expect(completionBytesOf("日本")).toBe(6);
  });

  it("allows a few special tokens on the whole answer, not one per chunk", () => {
    expect(maxCompletionTokens(0)).toBe(SPECIAL_TOKENS_PER_ANSWER);
    expect(maxCompletionTokens(10)).toBe(10 + SPECIAL_TOKENS_PER_ANSWER);
  });
});
