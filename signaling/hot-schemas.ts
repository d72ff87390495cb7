import {
  MAX_ID_CHARS,
  MAX_MODEL_ID_CHARS,
  MAX_PRICE_NANO,
  NONCE_HEX,
  parseWith,
  SessionEnd,
  SessionRequest,
} from "../protocol";

/**
 * The two events on every pairing's path, `session:request` and `session:end`, read as their
 * schemas (protocol/schemas/signaling.ts) read them, without valibot's cost (13–15 µs of a ~140 µs
 * request on the node, issue 17 run M). A hand check takes the common shape (for a request: no
 * `needs`, `policy` or `minAuditsPassed`, which send it down the slower path anyway) and builds
 * exactly the schema's output; anything it does not take, every malformed message included, goes
 * to the schema, so a refusal is the schema's own typed error, word for word. The schemas stay the
 * one owner of what is valid: tests/signaling/hot-schemas.test.ts holds each check to its schema
 * on a corpus.
 */
export function parseSessionRequest(input: unknown, what: string): SessionRequest {
  return quickSessionRequest(input) ?? parseWith(SessionRequest, input, what);
}

const MODEL_ID = /^[A-Za-z0-9._:/@+-]+$/;
const HEX32 = /^[0-9a-f]{64}$/;
const NANO = /^(0|[1-9][0-9]{0,38})$/;
const MAX_EXCLUDE = 16;
const ID = /^[A-Za-z0-9_-]+$/;
const MAX_END_REASON = 200;

export function parseSessionEnd(input: unknown, what: string): SessionEnd {
  return quickSessionEnd(input) ?? parseWith(SessionEnd, input, what);
}

/** The schema's output for a well-formed `session:end`; undefined for anything else. */
export function quickSessionEnd(input: unknown): SessionEnd | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const { v, sessionId } = input as Record<string, unknown>;
  if (v !== 1 || typeof sessionId !== "string" || sessionId.length < 1 || sessionId.length > MAX_ID_CHARS)
    return undefined;
  if (!ID.test(sessionId)) return undefined;
  if (!("reason" in input)) return { v: 1, sessionId };
  const reason = (input as Record<string, unknown>).reason;
  if (typeof reason !== "string" || reason.length > MAX_END_REASON) return undefined;
  return { v: 1, sessionId, reason };
}

/** The schema's output for a well-formed request of the common shape; undefined for anything else. */
export function quickSessionRequest(input: unknown): SessionRequest | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const o = input as Record<string, unknown>;
  if ("needs" in o || "policy" in o || "minAuditsPassed" in o || o.v !== 1) return undefined;
  const { model, sessionKey } = o;
  if (typeof model !== "string" || model.length < 1 || model.length > MAX_MODEL_ID_CHARS) return undefined;
  if (!MODEL_ID.test(model) || typeof sessionKey !== "string" || !HEX32.test(sessionKey)) return undefined;
  const maxPrice = quickMaxPrice(o.maxPrice);
  if (!maxPrice) return undefined;
  const nonce = "nonce" in o ? o.nonce : undefined;
  if (nonce !== undefined && (typeof nonce !== "string" || !NONCE_HEX.test(nonce))) return undefined;
  // As the schema: a `nonce` key present is kept, even one left undefined.
  const base = { v: 1 as const, model, maxPrice, sessionKey, ...("nonce" in o && { nonce }) };
  if (!("exclude" in o)) return base;
  const exclude = o.exclude;
  if (!Array.isArray(exclude) || exclude.length > MAX_EXCLUDE) return undefined;
  for (const key of exclude) if (typeof key !== "string" || !HEX32.test(key)) return undefined;
  return { ...base, exclude: [...exclude] as string[] };
}

function quickMaxPrice(input: unknown): SessionRequest["maxPrice"] | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const prompt = nano((input as Record<string, unknown>).promptNanoPerToken);
  const completion = nano((input as Record<string, unknown>).completionNanoPerToken);
  if (prompt === undefined || completion === undefined) return undefined;
  return { promptNanoPerToken: prompt, completionNanoPerToken: completion };
}

function nano(input: unknown): bigint | undefined {
  if (typeof input !== "string" || !NANO.test(input)) return undefined;
  const n = BigInt(input);
  return n <= MAX_PRICE_NANO ? n : undefined;
}
