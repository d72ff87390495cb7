import { randomBytes } from "node:crypto";

/** Random bytes drawn in blocks: one 18-byte draw per pairing costs more than the rest of the pick. */
let pool = Buffer.alloc(0);
let used = 0;

/**
 * A fresh session id: 24 base64url characters (144 random bits), after `tag` when given (the
 * Redis store in a cluster leads with its shard tag, so the id alone says where the record is).
 */
export function newSessionId(tag = ""): string {
  if (used + 18 > pool.length) {
    pool = randomBytes(18 * 512);
    used = 0;
  }
  used += 18;
  return tag + pool.toString("base64url", used - 18, used);
}
