import { sha256 } from "@noble/hashes/sha2.js";
import { lengthPrefixed, utf8 } from "./encoding";

/**
 * The bytes a provider's identity key signs to register: the server's fresh challenge and a hash
 * of everything it claims (payout, models, prices, capacity), so no field can be swapped in flight.
 */
export const REGISTRATION_LABEL = "silk/v1 provider-registration";

export function registrationMessage(challenge: Uint8Array, claims: unknown): Uint8Array {
  return lengthPrefixed(utf8(REGISTRATION_LABEL), challenge, sha256(utf8(canonicalJson(claims))));
}

/** JSON with object keys sorted, so both sides hash the same text for the same value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, val: unknown) => {
    if (typeof val === "bigint") return val.toString();
    if (val && typeof val === "object" && !Array.isArray(val) && !(val instanceof Uint8Array)) {
      const obj = val as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(obj)
          .sort()
          .map((k) => [k, obj[k]]),
      );
    }
    return val;
  });
}
