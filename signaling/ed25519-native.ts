import { createPublicKey, verify } from "node:crypto";

/** DER of an Ed25519 SubjectPublicKeyInfo, up to the 32 key bytes. */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const P = 2n ** 255n - 19n;

/**
 * Ed25519 verification through Node's own crypto (OpenSSL): several times cheaper than the
 * pure-JS check `protocol/` must use to run in browsers (19 ms against 2.7 ms a registration on
 * the loaded bench machine), and checking registrations is most of what a reconnect storm costs
 * the server. OpenSSL follows RFC 8032, which refuses a few encodings noble's ZIP-215 rules
 * accept; no honest signer makes them. The key's encoding must be canonical (y below p), as
 * `decodePublicKey` requires. Never throws.
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64 || !canonical(publicKey)) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, publicKey]),
      format: "der",
      type: "spki",
    });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

function canonical(bytes: Uint8Array): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  return y < P;
}
