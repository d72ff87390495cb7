import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { MalformedMessageError } from "./errors";

const HEX_RE = /^[0-9a-f]*$/;

export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/** Strict lowercase hex of an exact byte length; anything else is a typed error. */
export function fromHex(hex: string, bytes: number, what: string): Uint8Array {
  if (typeof hex !== "string" || hex.length !== bytes * 2 || !HEX_RE.test(hex)) {
    throw new MalformedMessageError(`${what} must be ${bytes * 2} lowercase hex characters`);
  }
  return hexToBytes(hex);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new MalformedMessageError("not valid UTF-8", { cause });
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Length-prefixed concatenation, so that no two different field lists encode the same bytes. */
export function lengthPrefixed(...parts: Uint8Array[]): Uint8Array {
  const framed: Uint8Array[] = [];
  for (const p of parts) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, p.length);
    framed.push(len, p);
  }
  return concatBytes(...framed);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
