import * as v from "valibot";
import { fromUtf8, utf8 } from "./encoding";
import {
  MalformedMessageError,
  OversizeMessageError,
  UnknownFieldError,
  UnknownMessageTypeError,
  VersionMismatchError,
} from "./errors";

export const PROTOCOL_VERSION = 1;

/**
 * Validates an already-parsed value. The error names the first failing path, never its value,
 * so that a prompt or a key in a bad message does not end up in a log.
 */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  what: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue?.path?.map((p) => String(p.key)).join(".") || "(root)";
  // A strict object's key it does not know: refused by name (the key is the sender's, not a value).
  if (issue?.type === "strict_object") throw new UnknownFieldError(what, path);
  throw new MalformedMessageError(
    `${what}: invalid at ${path.slice(0, 80)}: ${issue?.expected ?? "valid value"} expected`,
  );
}

/**
 * For messages discriminated by `t` and carrying `v`: unknown types and versions get their own
 * errors before the schema runs, so the sender learns which way it is wrong.
 */
export function parseTyped<S extends v.GenericSchema>(
  schema: S,
  types: ReadonlySet<string>,
  input: unknown,
  what: string,
): v.InferOutput<S> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new MalformedMessageError(`${what}: not an object`);
  }
  const record = input as Record<string, unknown>;
  if (record.v !== PROTOCOL_VERSION) throw new VersionMismatchError(record.v, PROTOCOL_VERSION);
  if (typeof record.t !== "string") throw new MalformedMessageError(`${what}: missing type`);
  if (!types.has(record.t)) throw new UnknownMessageTypeError(record.t);
  return parseWith(schema, input, what);
}

/** UTF-8 JSON bytes, refused above `limit` before parsing. */
export function decodeJson(bytes: Uint8Array, limit: number): unknown {
  if (bytes.length > limit) throw new OversizeMessageError(bytes.length, limit);
  const text = fromUtf8(bytes);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MalformedMessageError("not valid JSON", { cause });
  }
}

export function encodeJson(value: unknown, limit: number): Uint8Array {
  const bytes = utf8(JSON.stringify(value));
  if (bytes.length > limit) throw new OversizeMessageError(bytes.length, limit);
  return bytes;
}

/** Size of a value as it would travel in JSON; for payloads that arrive already parsed (socket.io). */
export function jsonSize(value: unknown): number {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 0 : utf8(text).length;
  } catch {
    return Number.POSITIVE_INFINITY; // cyclic or BigInt: not a wire value
  }
}
