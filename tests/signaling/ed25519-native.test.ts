import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateKeyPair, sign, verify } from "../../protocol";
import { verifyEd25519 } from "../../signaling/ed25519-native";

describe("the server's native Ed25519 check", () => {
  const kp = generateKeyPair();
  const message = new TextEncoder().encode("silk registration");
  const signature = sign(kp.secretKey, message);
  const flipped = (b: Uint8Array, i: number) => b.map((x, k) => (k === i ? x ^ 1 : x));
  // y = p (2^255 - 19), little-endian: the same point as y = 0 spelled non-canonically.
  const nonCanonical = new Uint8Array(32).fill(0xff).map((x, i) => (i === 0 ? 0xed : i === 31 ? 0x7f : x));

  it.each([
    ["a signature by the key", kp.publicKey, message, signature, true],
    ["another message", kp.publicKey, flipped(message, 3), signature, false],
    ["a tampered signature", kp.publicKey, message, flipped(signature, 40), false],
    ["another key", generateKeyPair().publicKey, message, signature, false],
    ["a key encoded non-canonically", nonCanonical, message, signature, false],
    ["a short key", kp.publicKey.subarray(1), message, signature, false],
    ["a short signature", kp.publicKey, message, signature.subarray(1), false],
  ])("%s", (_, key, msg, sig, valid) => {
    expect(verifyEd25519(key, msg, sig)).toBe(valid);
  });

  it("agrees with protocol/'s check on honest and random signatures", () => {
    for (let i = 0; i < 40; i++) {
      const k = generateKeyPair();
      const m = new Uint8Array(randomBytes(1 + i));
      const s = i % 2 === 0 ? sign(k.secretKey, m) : new Uint8Array(randomBytes(64));
      const key = i % 5 === 4 ? new Uint8Array(randomBytes(32)) : k.publicKey;
      expect(verifyEd25519(key, m, s)).toBe(verify(key, m, s));
    }
  });
});
