import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import {
  decodeSecretKey,
  encodePublicKey,
  grantMacHead,
  grantMacKey,
  helloMessage,
  type KeyPair,
  type ServerHello,
  toHex,
} from "../protocol";
import { ConfigError } from "./config";
import { fileSecret } from "./resume-tickets";

/** DER of an Ed25519 PKCS#8 private key, up to the 32 seed bytes. */
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");
/** DER of an X25519 SubjectPublicKeyInfo, up to the 32 key bytes. */
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");

/**
 * The server's identity (protocol/server-grant.ts): an Ed25519 key that answers each connection's
 * `server:hello`, and the HMAC every grant on such a connection carries. One signature per
 * connection through Node's own crypto (OpenSSL), an HMAC per grant.
 */
export class ServerKey {
  /** The public key, hex: what `GET /api/server-key` publishes and requesters pin. */
  readonly key: string;
  private readonly signer: KeyObject;

  constructor(pair: KeyPair) {
    this.key = encodePublicKey(pair.publicKey);
    this.signer = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8, pair.secretKey]),
      format: "der",
      type: "pkcs8",
    });
  }

  /** The answer to a hello, and the connection's MAC key (kept in the socket's state). */
  hello(h: ServerHello): { answer: { ok: true; key: string; dh: string; sig: string }; macKey: KeyObject } {
    const mine = generateKeyPairSync("x25519");
    const dh = toHex(mine.publicKey.export({ format: "der", type: "spki" }).subarray(X25519_SPKI.length));
    const theirs = createPublicKey({
      key: Buffer.concat([X25519_SPKI, Buffer.from(h.dh, "hex")]),
      format: "der",
      type: "spki",
    });
    const shared = diffieHellman({ privateKey: mine.privateKey, publicKey: theirs });
    const message = helloMessage(h.nonce, h.dh, dh);
    return {
      answer: { ok: true, key: this.key, dh, sig: toHex(sign(null, message, this.signer)) },
      // A key object, not bytes: an HMAC made from one skips importing the key on every grant.
      macKey: createSecretKey(grantMacKey(shared, message)),
    };
  }

  /** The `server` field of a grant (`grant` as sent, without that field) made for `nonce`. */
  static mac(macKey: KeyObject, nonce: string, grant: object): { mac: string } {
    // Fed in pieces, the text as it is: half the cost of building `grantMacMessage` (one per pairing).
    const json = JSON.stringify(grant);
    const mac = createHmac("sha256", macKey)
      .update(grantMacHead(nonce, Buffer.byteLength(json)))
      .update(json, "utf8");
    return { mac: mac.digest("hex") };
  }
}

/**
 * The key given (a 32-byte secret), else the one kept in `file` (64 hex characters, made there on
 * first start with owner-only permissions; nodes started at once from one file share one key),
 * else a fresh one in memory (a test's server: requesters learn it on first use).
 */
export function loadServerKey(given: Uint8Array | undefined, file: string | undefined): ServerKey {
  if (given) return new ServerKey(decodeSecretKey(toHex(given)));
  if (!file) return new ServerKey(decodeSecretKey(randomBytes(32).toString("hex")));
  const text = fileSecret(file);
  try {
    return new ServerKey(decodeSecretKey(text));
  } catch {
    throw new ConfigError(`the server key in ${file} must be 64 lowercase hex characters (a 32-byte secret)`);
  }
}
