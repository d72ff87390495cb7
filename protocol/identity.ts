import { ed25519 } from "@noble/curves/ed25519.js";
import { fromHex, toHex } from "./encoding";
import { InvalidKeyError, MalformedMessageError } from "./errors";

/**
 * Ed25519 keys: a provider's identity key, a requester's session key. The one stable text form
 * of a public key is 64 lowercase hex characters, the same number a TON contract reads as uint256.
 */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export type PublicKeyText = string;

export function generateKeyPair(): KeyPair {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new InvalidKeyError("an Ed25519 secret key is 32 bytes");
  }
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, secretKey);
}

/** Never throws: a malformed key or signature simply does not verify. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

export function encodePublicKey(publicKey: Uint8Array): PublicKeyText {
  if (publicKey.length !== 32) throw new InvalidKeyError("an Ed25519 public key is 32 bytes");
  return toHex(publicKey);
}

/** Parses the text form and checks the bytes are a point on the curve. */
export function decodePublicKey(text: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromHex(text, 32, "public key");
  } catch (err) {
    if (err instanceof MalformedMessageError) throw new InvalidKeyError(err.message);
    throw err;
  }
  if (!ed25519.utils.isValidPublicKey(bytes, false))
    throw new InvalidKeyError("public key is not a valid Ed25519 point");
  return bytes;
}

export function encodeSecretKey(secretKey: Uint8Array): string {
  if (secretKey.length !== 32) throw new InvalidKeyError("an Ed25519 secret key is 32 bytes");
  return toHex(secretKey);
}

export function decodeSecretKey(text: string): KeyPair {
  try {
    return keyPairFromSecret(fromHex(text.trim(), 32, "secret key"));
  } catch (err) {
    if (err instanceof MalformedMessageError) throw new InvalidKeyError(err.message);
    throw err;
  }
}
