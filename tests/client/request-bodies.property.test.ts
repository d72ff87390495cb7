import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseChatBody } from "../../client/gateway/chat-body";
import { HttpError, toHttpError } from "../../client/gateway/http-errors";
import {
  asResponsesParam,
  parseResponsesBody,
  RESPONSES_CARRIED_FIELDS,
} from "../../client/gateway/responses-body";
import { CARRIED_FIELDS } from "../../client/sdk/chat-fields";
import { toChatParams } from "../../client/sdk/chat-input";
import { InvalidRequestError } from "../../client/sdk/errors";

/**
 * The gateway's promise for a chat body, over bodies no one wrote by hand: every field is carried
 * as sent or the body is refused with a 400 naming a field it holds; never a field dropped, never
 * another error. Keys come from the carried ones, names that read through to Object.prototype
 * (`constructor`, `__proto__`, … were dropped or a 500), and any string; bodies are parsed from
 * JSON text, as the gateway reads them, so `__proto__` is an own key.
 */
const PROTOTYPE_NAMES = [
  "constructor",
  "toString",
  "valueOf",
  "__proto__",
  "hasOwnProperty",
  "isPrototypeOf",
];
const key = fc.oneof(fc.constantFrom(...CARRIED_FIELDS, ...PROTOTYPE_NAMES), fc.string({ maxLength: 12 }));
const value = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 40 }),
  fc.double({ min: 0, max: 2, noNaN: true }),
  fc.string({ maxLength: 6 }),
  fc.constant(["END"]),
  fc.constant({ a: 1 }),
);
const role = fc.constantFrom("user", "system", "developer", "assistant", "tool", ...PROTOTYPE_NAMES);
const message = fc
  .tuple(role, fc.array(fc.tuple(key, value), { maxLength: 2 }))
  .map(([r, extra]) => [["role", r], ["content", "hi"], ...extra] as [string, unknown][]);

/** A JSON object's text from its entries, in order (a repeated key: the last wins, as in JSON.parse). */
const objectText = (entries: readonly [string, unknown][]): string =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${Array.isArray(v) && Array.isArray(v[0]) ? objectText(v as [string, unknown][]) : JSON.stringify(v)}`).join(",")}}`;

const body = fc
  .tuple(fc.array(message, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(key, value), { maxLength: 4 }))
  .map(([messages, fields]) => {
    const text = `{"model":"m","messages":[${messages.map(objectText).join(",")}]${fields.length ? "," : ""}${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
    return JSON.parse(text) as Record<string, unknown>;
  });

/** Harmless values of refused fields that ask for nothing (chat-fields.ts's NO_OP), and `n: 1`. */
const asksNothing = (k: string, v: unknown) =>
  (k === "store" && v === false) ||
  (k === "service_tier" && (v === "auto" || v === "default")) ||
  (k === "n" && v === 1);

/** Carried as sent (the others are reshaped: `stop` to a list, both token limits to one, …). */
const AS_SENT = [
  "temperature",
  "top_p",
  "seed",
  "user",
  "presence_penalty",
  "frequency_penalty",
  "logprobs",
  "top_logprobs",
  "parallel_tool_calls",
];

/** A 400 whose `param` names a field the body holds (or one inside it). */
function expectRefusalOfAField(err: HttpError, b: Record<string, unknown>): void {
  expect(err.status).toBe(400);
  const param = err.param ?? "";
  const named = (k: string) => param === k || param.startsWith(`${k}.`);
  expect([param, Object.keys(b).some(named)]).toEqual([param, true]);
}

/** What the gateway does with a body: its own check, then the SDK's (chat-input.ts). */
function gatewayReads(b: Record<string, unknown>) {
  const { params } = parseChatBody(b);
  return toChatParams(params) as unknown as Record<string, unknown>;
}

describe("a chat body (property-based)", () => {
  it("is carried field by field, or refused as a bad request naming a field it holds", () => {
    fc.assert(
      fc.property(body, (b) => {
        let out: Record<string, unknown>;
        try {
          out = gatewayReads(b);
        } catch (err) {
          // A 400 either way: the gateway's own, or the SDK's InvalidRequestError (400 INVALID_REQUEST).
          if (!(err instanceof HttpError)) expect(err).toBeInstanceOf(InvalidRequestError);
          expectRefusalOfAField(toHttpError(err), b);
          return;
        }
        for (const [k, v] of Object.entries(b)) {
          if (v == null || asksNothing(k, v)) continue;
          expect([k, (CARRIED_FIELDS as readonly string[]).includes(k)]).toEqual([k, true]);
          if (AS_SENT.includes(k)) expect([k, out[k]]).toEqual([k, v]);
        }
        const sent = b.messages as Record<string, unknown>[];
        const carried = out.messages as Record<string, unknown>[];
        for (const [i, m] of sent.entries())
          for (const [k, v] of Object.entries(m))
            if (v != null) expect([i, k, Object.hasOwn(carried[i] ?? {}, k)]).toEqual([i, k, true]);
      }),
      { numRuns: 3000 },
    );
  });
});

const responsesKey = fc.oneof(
  fc.constantFrom(...RESPONSES_CARRIED_FIELDS, ...PROTOTYPE_NAMES),
  fc.string({ maxLength: 12 }),
);
const item = fc
  .tuple(role, fc.array(fc.tuple(responsesKey, value), { maxLength: 2 }))
  .map(([r, extra]) => [["role", r], ["content", "hi"], ...extra] as [string, unknown][]);
const responsesBody = fc
  .tuple(
    fc.oneof(fc.constant(undefined), fc.array(item, { minLength: 1, maxLength: 3 })),
    fc.array(fc.tuple(responsesKey, value), { maxLength: 4 }),
  )
  .map(([items, fields]) => {
    const input = items ? `[${items.map(objectText).join(",")}]` : '"hi"';
    const rest = fields.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join("");
    return JSON.parse(`{"model":"m","input":${input}${rest}}`) as Record<string, unknown>;
  });

/** A Responses body as the gateway reads it: its own check, then the SDK's, the SDK's refusals renamed. */
function responsesRead(b: Record<string, unknown>) {
  const { params, sources } = parseResponsesBody(b);
  try {
    return toChatParams(params) as unknown as Record<string, unknown>;
  } catch (err) {
    throw asResponsesParam(toHttpError(err), sources);
  }
}

const responsesAsksNothing = (k: string, v: unknown) =>
  ((k === "store" || k === "background") && v === false) ||
  (k === "service_tier" && (v === "auto" || v === "default")) ||
  (k === "truncation" && v === "disabled") ||
  (k === "top_logprobs" && v === 0);

describe("a Responses body (property-based)", () => {
  it("is carried field by field, or refused with a 400 naming a field it holds", () => {
    fc.assert(
      fc.property(responsesBody, (b) => {
        let out: Record<string, unknown>;
        try {
          out = responsesRead(b);
        } catch (err) {
          expect(err).toBeInstanceOf(HttpError);
          expectRefusalOfAField(err as HttpError, b);
          return;
        }
        for (const [k, v] of Object.entries(b)) {
          if (v == null || responsesAsksNothing(k, v)) continue;
          expect([k, (RESPONSES_CARRIED_FIELDS as readonly string[]).includes(k)]).toEqual([k, true]);
          if (["temperature", "top_p", "user"].includes(k)) expect([k, out[k]]).toEqual([k, v]);
          // Carried with tools; without them it asks nothing, but is still a boolean or refused.
          if (k === "parallel_tool_calls") expect([k, typeof v]).toEqual([k, "boolean"]);
          if (k === "max_output_tokens") expect([k, out.max_tokens]).toEqual([k, v]);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
