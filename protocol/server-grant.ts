import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, equalBytes, fromHex, lengthPrefixed, toHex, utf8 } from "./encoding";
import { verify } from "./identity";

/**
 * How a requester tells a signaling server's grants from a man in the middle's. The server has an
 * Ed25519 key of its own (its "server key"), which a requester pins. Once per connection, the
 * requester says `server:hello` with a fresh nonce and an X25519 key; the server answers with an
 * X25519 key of its own and its server key's signature over both (`helloMessage`), so the two share
 * a secret no one on the path has, and the requester knows whose it is. Every grant on that
 * connection (a `session:request` ack, a `session:moved` target) then carries an HMAC under that
 * secret over the grant's JSON text and the request's own nonce (`grantMacMessage`): it cannot be
 * altered on the path nor replayed to another request. One signature per connection, not one per
 * pairing: an HMAC costs the server microseconds, an Ed25519 signature tens of them.
 */
export const HELLO_LABEL = "silk/v1 server-hello";
export const GRANT_LABEL = "silk/v1 server-grant";
const MAC_KEY_LABEL = utf8("silk/v1 grant-mac-key");

/** A nonce: 16 random bytes as 32 lowercase hex characters. */
export const NONCE_HEX = /^[0-9a-f]{32}$/;

/** A fresh nonce (a hello's, a request's). */
export function grantNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** What the server key signs in answer to a hello: the requester's nonce and X25519 key, and its own. */
export function helloMessage(nonce: string, requesterDh: string, serverDh: string): Uint8Array {
  return lengthPrefixed(
    utf8(HELLO_LABEL),
    fromHex(nonce, 16, "nonce"),
    fromHex(requesterDh, 32, "X25519 key"),
    fromHex(serverDh, 32, "X25519 key"),
  );
}

/** The connection's MAC key, from the X25519 secret both sides share and the hello's transcript. */
export function grantMacKey(shared: Uint8Array, hello: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, sha256(hello), MAC_KEY_LABEL, 32);
}

/** The bytes a grant's MAC covers: the label, the request's nonce and the grant's JSON text. */
export function grantMacMessage(nonce: string, grantJson: string): Uint8Array {
  const json = utf8(grantJson);
  return concatBytes(grantMacHead(nonce, json.length), json);
}

/** The label's frame and the nonce's length, the same for every grant (built once). */
const GRANT_HEAD = lengthPrefixed(utf8(GRANT_LABEL), new Uint8Array(16)).subarray(0, -16);

/**
 * `grantMacMessage` up to the grant's JSON text (`grantJsonBytes` long, in UTF-8): the server
 * feeds it and then the text itself to an incremental HMAC, so no grant is copied into one buffer
 * per pairing and the layout still has one owner.
 */
export function grantMacHead(nonce: string, grantJsonBytes: number): Uint8Array {
  const head = new Uint8Array(GRANT_HEAD.length + 16 + 4);
  head.set(GRANT_HEAD);
  head.set(fromHex(nonce, 16, "nonce"), GRANT_HEAD.length);
  new DataView(head.buffer).setUint32(GRANT_HEAD.length + 16, grantJsonBytes);
  return head;
}

/** The grant without its `server` field: what the MAC covers (as JSON, in the order it came). */
export function unsealed(grant: Record<string, unknown>): Record<string, unknown> {
  const { server: _server, ...rest } = grant;
  return rest;
}

/** A requester's side of one hello: what to send, and how to read the answer. */
export interface HelloOffer {
  readonly nonce: string;
  readonly dh: string;
  /**
   * The connection's MAC key when the answer is signed by `key` (hex) for this hello; undefined
   * when it is not (or is malformed). Never throws.
   */
  accept(answer: Readonly<Record<string, unknown>>, key: string): Uint8Array | undefined;
}

export function helloOffer(): HelloOffer {
  const secret = x25519.utils.randomSecretKey();
  const nonce = grantNonce();
  const dh = toHex(x25519.getPublicKey(secret));
  return {
    nonce,
    dh,
    accept(answer, key) {
      if (typeof answer.dh !== "string" || typeof answer.sig !== "string") return undefined;
      try {
        const message = helloMessage(nonce, dh, answer.dh);
        if (!verify(fromHex(key, 32, "server key"), message, fromHex(answer.sig, 64, "signature")))
          return undefined;
        return grantMacKey(x25519.getSharedSecret(secret, fromHex(answer.dh, 32, "X25519 key")), message);
      } catch {
        return undefined;
      }
    },
  };
}

/** Whether `raw` (a grant as it came off the wire) carries the MAC of `macKey` for `nonce`. Never throws. */
export function grantMacValid(raw: unknown, nonce: string, macKey: Uint8Array): boolean {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  const mac = ((raw as { server?: unknown }).server as { mac?: unknown } | undefined)?.mac;
  if (typeof mac !== "string") return false;
  try {
    const json = JSON.stringify(unsealed(raw as Record<string, unknown>));
    return equalBytes(hmac(sha256, macKey, grantMacMessage(nonce, json)), fromHex(mac, 32, "grant MAC"));
  } catch {
    return false;
  }
}
