import * as v from "valibot";
import { MAX_ERROR_MESSAGE_CHARS, MAX_ID_CHARS, MAX_MODEL_ID_CHARS } from "../limits";
import { MAX_MULTIPLIER_BPS, MAX_PRICE_NANO } from "../pricing";

export const Version = v.literal(1);
export const Hex32 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
export const Hex64 = v.pipe(v.string(), v.regex(/^[0-9a-f]{128}$/));
export const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_ID_CHARS), v.regex(/^[A-Za-z0-9_-]+$/));
export const ModelId = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(MAX_MODEL_ID_CHARS),
  v.regex(/^[A-Za-z0-9._:/@+-]+$/),
);
/** What a number field takes, as OpenAI's refusals name it: an integer or any number, a decimal. */
type NumberKind = "integer" | "decimal";

/**
 * A number out of its field's range in OpenAI's words, less the field's name (the path is not the
 * issue's to know): `integer below minimum value. Expected a value >= 1, but got 0 instead.`
 */
const outOfRange =
  (kind: NumberKind) =>
  (issue: v.MinValueIssue<number, number> | v.MaxValueIssue<number, number>): string => {
    const below = issue.type === "min_value";
    return `${kind} ${below ? "below minimum" : "above maximum"} value. Expected a value ${below ? ">=" : "<="} ${issue.requirement}, but got ${issue.input} instead.`;
  };

/** OpenAI's code for a number out of its field's range. */
export type OutOfRangeCode = `${NumberKind}_${"below_min" | "above_max"}_value`;

/** OpenAI's code for a refusal `outOfRange` worded (`integer_below_min_value`), or undefined. */
export function outOfRangeCode(message: string): OutOfRangeCode | undefined {
  const m = /^(integer|decimal) (below min|above max)imum value\. /.exec(message);
  return m ? (`${m[1]}_${m[2]?.replace(" ", "_")}_value` as OutOfRangeCode) : undefined;
}

/**
 * A JSON integer from `min` to `max`, as a request field takes one. Of another JSON type its issue
 * expects `integer`, not valibot's `number`, so a string sent for one is refused as OpenAI refuses
 * it ("expected an integer, but got a string"); a decimal is refused by `v.integer()` after it, and
 * one out of range in OpenAI's words (`outOfRange`).
 */
export const IntegerIn = (min: number, max: number) =>
  v.pipe(
    Object.assign(v.number(), { expects: "integer" }),
    v.integer(),
    v.minValue(min, outOfRange("integer")),
    v.maxValue(max, outOfRange("integer")),
  );

/** A JSON number from `min` to `max` (`temperature`), one out of range refused in OpenAI's words. */
export const DecimalIn = (min: number, max: number) =>
  v.pipe(v.number(), v.minValue(min, outOfRange("decimal")), v.maxValue(max, outOfRange("decimal")));
export const Count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

/** nanoTON travel as decimal strings (JSON has no bigint) and become bigint on parse. */
export const Nano = v.pipe(
  v.string(),
  v.regex(/^(0|[1-9][0-9]{0,38})$/),
  v.transform((s) => BigInt(s)),
  v.maxValue(MAX_PRICE_NANO * 10n ** 9n),
);
export const PriceNano = v.pipe(Nano, v.maxValue(MAX_PRICE_NANO));
export const Bps = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_MULTIPLIER_BPS));

export const ModelPriceSchema = v.object({
  nanoPerToken: PriceNano,
  promptMultiplierBps: Bps,
  completionMultiplierBps: Bps,
});

export const MaxPriceSchema = v.object({
  promptNanoPerToken: PriceNano,
  completionNanoPerToken: PriceNano,
});

/** A TON address in raw (0:hex) or user-friendly form; parsed into an Address by whoever needs it. */
export const TonAddressText = v.pipe(
  v.string(),
  v.minLength(48),
  v.maxLength(70),
  v.regex(/^[A-Za-z0-9_:+/=-]+$/),
);

export const ErrorBody = v.object({
  code: v.pipe(v.string(), v.maxLength(40)),
  message: v.pipe(v.string(), v.maxLength(MAX_ERROR_MESSAGE_CHARS)),
  /** The request field the error is about (UNKNOWN_FIELD's path), when there is one. */
  param: v.optional(v.pipe(v.string(), v.maxLength(80), v.regex(/^[A-Za-z0-9_.-]+$/))),
});

/** Wire form of a price: bigints as decimal strings. */
export function priceToWire(p: {
  nanoPerToken: bigint;
  promptMultiplierBps: number;
  completionMultiplierBps: number;
}) {
  return {
    nanoPerToken: p.nanoPerToken.toString(),
    promptMultiplierBps: p.promptMultiplierBps,
    completionMultiplierBps: p.completionMultiplierBps,
  };
}

export function maxPriceToWire(p: { promptNanoPerToken: bigint; completionNanoPerToken: bigint }) {
  return {
    promptNanoPerToken: p.promptNanoPerToken.toString(),
    completionNanoPerToken: p.completionNanoPerToken.toString(),
  };
}

/**
 * Whether a JSON value nests objects and lists more than `depth` levels deep, walked without
 * recursion (a recursive walk of one nested deep enough is what runs out of stack).
 */
export function nestedDeeperThan(value: unknown, depth: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [x, level] = next;
    if (typeof x !== "object" || x === null) continue;
    if (level > depth) return true;
    for (const child of Object.values(x)) pending.push([child, level + 1]);
  }
  return false;
}

/**
 * `schema`, a map, refusing a list as of the wrong type (an issue expecting `Object`, as the
 * record's own for a string): valibot's record takes one and outputs its indexes as keys
 * (`logit_bias: [5]` became a bias of 5 on token 0; a signal `[…]` was relayed as `{0: …}`).
 */
export const MapOf = <S extends v.GenericSchema<object>>(schema: S) =>
  v.pipe(
    Object.assign(
      v.custom<unknown>((x) => !Array.isArray(x)),
      { expects: "Object" },
    ),
    schema,
  );
