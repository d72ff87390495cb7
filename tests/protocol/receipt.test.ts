import { Address, beginCell, Cell } from "@ton/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkBinding,
  compareReceipts,
  decodeSignedReceipt,
  encodeSignedReceipt,
  generateKeyPair,
  keyPairFromSecret,
  MalformedMessageError,
  NETWORK_ID,
  pickNewer,
  type Receipt,
  ReceiptBindingError,
  ReceiptConflictError,
  receiptCell,
  SilkError,
  signReceipt,
  toHex,
  verifyReceiptSignature,
} from "../../protocol";
import { reserveCell } from "../../protocol/reserve";

const ESCROW = Address.parse(`0:${"11".repeat(32)}`);
const PAYOUT = Address.parse(`0:${"22".repeat(32)}`);
const KEY = keyPairFromSecret(new Uint8Array(32).fill(1));
const BASE: Receipt = {
  network: NETWORK_ID.testnet,
  escrow: ESCROW,
  payout: PAYOUT,
  keyEpoch: 1,
  tokens: 1234n,
  amount: 5_000_000n,
};

/** Addresses carry caches that deep equality trips on; compare their text. */
function plain(r: Receipt) {
  return { ...r, escrow: r.escrow.toRawString(), payout: r.payout.toRawString() };
}

// Fixed vectors: any change to the layout or the signing changes these, and the contracts with them.
const VECTOR = {
  publicKey: "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
  cellHash: "07b3e07c8e6dbcf12b15f372ff4acf8e7eb5668851dbf7c3c8c44902664adf21",
  signature:
    "d5125df3c86d9a573748c6a02fd0f80a5d4a5853d13cde3c70135cb52033b1248639bb3903e2801ca4b16a0b02ccf926e827fac38c1336119e8d2c1e2e653606",
  boc: "te6cckEBAgEAwAABwNUSXfPIbZpXN0jGoC/Q+ApdSlhT0TzePHATXLUgM7Ekhjm7OQPigByksWoLAsz5Jugn+sOMEzYRno0sHi5lNgaKiOPddAnxlf1S2y08ul1yymcJvx2UEhvzdIgBtA9vXAEAtVNMS1L////9gAIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiMACIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiAAAAAQAAAAAAAATSNMS0CDPeCfy",
};

describe("receipt layout", () => {
  it("matches the fixed vectors", () => {
    expect(toHex(KEY.publicKey)).toBe(VECTOR.publicKey);
    expect(receiptCell(BASE).hash().toString("hex")).toBe(VECTOR.cellHash);
    const signed = signReceipt(BASE, KEY);
    expect(toHex(signed.signature)).toBe(VECTOR.signature);
    expect(encodeSignedReceipt(signed)).toBe(VECTOR.boc);
  });

  it("is the TL-B layout, bit for bit", () => {
    const manual = beginCell()
      .storeUint(0x534c4b52, 32)
      .storeInt(-3, 32)
      .storeAddress(ESCROW)
      .storeAddress(PAYOUT)
      .storeUint(1, 32)
      .storeUint(1234, 64)
      .storeCoins(5_000_000n)
      .endCell();
    expect(manual.equals(receiptCell(BASE))).toBe(true);
  });

  it("decodes the vector BOC back to the same receipt, with a valid signature", () => {
    const decoded = decodeSignedReceipt(VECTOR.boc);
    expect(decoded.receipt.tokens).toBe(1234n);
    expect(decoded.receipt.amount).toBe(5_000_000n);
    expect(decoded.receipt.escrow.equals(ESCROW)).toBe(true);
    expect(verifyReceiptSignature(decoded)).toBe(true);
  });

  it("round-trips any receipt (property-based)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(NETWORK_ID)),
        fc.nat(),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 120n - 1n }),
        (network, keyEpoch, tokens, amount) => {
          const r: Receipt = { ...BASE, network, keyEpoch, tokens, amount };
          const decoded = decodeSignedReceipt(encodeSignedReceipt(signReceipt(r, KEY)));
          expect(plain(decoded.receipt)).toEqual(plain(r));
          expect(verifyReceiptSignature(decoded)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses out-of-range amounts and tokens", () => {
    expect(() => receiptCell({ ...BASE, amount: -1n })).toThrow(MalformedMessageError);
    expect(() => receiptCell({ ...BASE, tokens: 2n ** 64n })).toThrow(MalformedMessageError);
  });

  it("refuses a network or key epoch its cell cannot carry with a typed error naming it, for a receipt and a raise", () => {
    const cases: [Partial<Receipt>, RegExp][] = [
      [{ keyEpoch: -1 }, /key epoch/],
      [{ keyEpoch: 2 ** 32 }, /key epoch/],
      [{ keyEpoch: 1.5 }, /key epoch/],
      [{ keyEpoch: Number.NaN }, /key epoch/],
      [{ network: 2 ** 31 }, /network/],
      [{ network: -(2 ** 31) - 1 }, /network/],
      [{ network: 0.5 }, /network/],
    ];
    for (const [bad, named] of cases) {
      const r = { ...BASE, ...bad };
      expect(() => signReceipt(r, KEY), JSON.stringify(bad)).toThrow(MalformedMessageError);
      expect(() => signReceipt(r, KEY), JSON.stringify(bad)).toThrow(named);
      const raise = { ...r, validUntil: 1_000, reserved: 1n };
      expect(() => reserveCell(raise), JSON.stringify(bad)).toThrow(MalformedMessageError);
      expect(() => reserveCell(raise), JSON.stringify(bad)).toThrow(named);
    }
    // The edges themselves are carried.
    expect(() => signReceipt({ ...BASE, keyEpoch: 2 ** 32 - 1, network: -(2 ** 31) }, KEY)).not.toThrow();
  });

  it("refuses random strings and random cells with a typed error (property-based)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (junk) => {
        expect(() => decodeSignedReceipt(junk)).toThrow(SilkError);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (bytes) => {
        const boc = beginCell().storeBuffer(Buffer.from(bytes)).endCell().toBoc().toString("base64");
        expect(() => decodeSignedReceipt(boc)).toThrow(SilkError);
      }),
    );
  });

  it("refuses a cell that reads as a receipt but is written another way (MALFORMED, not a bad signature)", () => {
    const signedBody = (write: (b: ReturnType<typeof beginCell>) => void) => {
      const b = beginCell().storeUint(0x534c4b52, 32).storeInt(BASE.network, 32).storeAddress(ESCROW);
      write(b);
      const cell = b.endCell();
      return beginCell()
        .storeBuffer(Buffer.alloc(64), 64)
        .storeBuffer(Buffer.from(KEY.publicKey), 32)
        .storeRef(cell)
        .endCell()
        .toBoc()
        .toString("base64");
    };
    const tail = (b: ReturnType<typeof beginCell>) =>
      b.storeUint(BASE.keyEpoch, 32).storeUint(BASE.tokens, 64);
    // The same amount in 4 bytes where 3 suffice: @ton/core reads it, the canonical cell differs.
    const padded = signedBody((b) => tail(b.storeAddress(PAYOUT)).storeUint(4, 4).storeUint(BASE.amount, 32));
    // An anycast payout, which @ton/core reads (rewriting the hash) and the escrow refuses.
    const anycast = signedBody((b) =>
      tail(
        b.storeUint(2, 2).storeBit(1).storeUint(3, 5).storeUint(0, 3).storeInt(0, 8).storeBuffer(PAYOUT.hash),
      ).storeCoins(BASE.amount),
    );
    for (const text of [padded, anycast]) expect(() => decodeSignedReceipt(text)).toThrow(/laid out/);
  });

  it("rejects a two-root BOC", () => {
    const two = Buffer.concat([Cell.EMPTY.toBoc(), Cell.EMPTY.toBoc()]).toString("base64");
    expect(() => decodeSignedReceipt(two)).toThrow(SilkError);
  });
});

describe("receipt signatures", () => {
  it("fails for another key, and for any changed field", () => {
    const signed = signReceipt(BASE, KEY);
    expect(verifyReceiptSignature({ ...signed, sessionKey: generateKeyPair().publicKey })).toBe(false);
    for (const change of [
      { tokens: 1235n },
      { amount: 5_000_001n },
      { keyEpoch: 2 },
      { network: NETWORK_ID.mainnet },
    ]) {
      expect(verifyReceiptSignature({ ...signed, receipt: { ...BASE, ...change } })).toBe(false);
    }
    expect(verifyReceiptSignature({ ...signed, receipt: { ...BASE, payout: ESCROW } })).toBe(false);
  });
});

describe("receipt binding and ordering", () => {
  it("checks network, escrow and payout", () => {
    const binding = { network: NETWORK_ID.testnet, escrow: ESCROW, payout: PAYOUT };
    expect(() => checkBinding(BASE, binding)).not.toThrow();
    expect(() => checkBinding(BASE, { ...binding, network: NETWORK_ID.mainnet })).toThrow(
      ReceiptBindingError,
    );
    expect(() => checkBinding(BASE, { ...binding, escrow: PAYOUT })).toThrow(ReceiptBindingError);
    expect(() => checkBinding(BASE, { ...binding, payout: ESCROW })).toThrow(ReceiptBindingError);
  });

  it("orders cumulative receipts and flags conflicts", () => {
    const more = { ...BASE, tokens: 2000n, amount: 6_000_000n };
    expect(compareReceipts(more, BASE)).toBe("newer");
    expect(compareReceipts(BASE, more)).toBe("older");
    expect(compareReceipts(BASE, { ...BASE })).toBe("same");
    expect(compareReceipts({ ...BASE, tokens: 2000n, amount: 1n }, BASE)).toBe("conflicting");
    expect(compareReceipts({ ...BASE, network: NETWORK_ID.mainnet }, BASE)).toBe("unrelated");
    // A new key epoch is a new stream, counted from zero: never comparable with the old one.
    expect(compareReceipts({ ...BASE, keyEpoch: 2, tokens: 1n, amount: 1n }, BASE)).toBe("unrelated");
  });

  it("keeps only the newest and refuses conflicts", () => {
    const a = signReceipt(BASE, KEY);
    const b = signReceipt({ ...BASE, tokens: 2000n, amount: 6_000_000n }, KEY);
    expect(pickNewer(undefined, a)).toBe(a);
    expect(pickNewer(a, b)).toBe(b);
    expect(pickNewer(b, a)).toBe(b);
    expect(() => pickNewer(b, signReceipt({ ...BASE, tokens: 3000n, amount: 1n }, KEY))).toThrow(
      ReceiptConflictError,
    );
    expect(() => pickNewer(b, signReceipt({ ...BASE, escrow: PAYOUT }, KEY))).toThrow(ReceiptConflictError);
  });
});
