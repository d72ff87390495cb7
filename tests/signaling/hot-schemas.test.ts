import { describe, expect, it } from "vitest";
import {
  MAX_ID_CHARS,
  MAX_MODEL_ID_CHARS,
  MAX_PRICE_NANO,
  parseWith,
  SessionEnd,
  SessionRequest,
} from "../../protocol";
import {
  parseSessionEnd,
  parseSessionRequest,
  quickSessionEnd,
  quickSessionRequest,
} from "../../signaling/hot-schemas";

/**
 * The server reads `session:request` and `session:end` with a hand check in front of the valibot
 * schema. The schema owns what is valid: on every input of a corpus the check gives what the schema
 * gives, the same output or the same typed error word for word, and it never takes what the schema
 * refuses.
 */

const hex = (c: string) => c.repeat(64);
const valid = {
  v: 1,
  model: "bench-model",
  maxPrice: { promptNanoPerToken: "100", completionNanoPerToken: "250" },
  sessionKey: hex("a"),
};

/** What a field is replaced with to make a request wrong (or, for some fields, still right). */
const junk: unknown[] = [
  undefined,
  null,
  0,
  1,
  -1,
  1.5,
  Number.NaN,
  true,
  "",
  "1",
  "x".repeat(MAX_MODEL_ID_CHARS + 1),
  hex("A"),
  hex("g"),
  `${hex("a")}0`,
  hex("a").slice(1),
  "007",
  "-1",
  "1e3",
  " 100",
  (MAX_PRICE_NANO + 1n).toString(),
  "9".repeat(40),
  [],
  [hex("b")],
  Array.from({ length: 17 }, () => hex("c")),
  [hex("b"), 7],
  {},
  { promptNanoPerToken: "1" },
  { promptNanoPerToken: 1, completionNanoPerToken: "1" },
  { promptNanoPerToken: "1", completionNanoPerToken: (MAX_PRICE_NANO + 1n).toString() },
  new Uint8Array(4),
  ["structured_output"],
  { minStake: "0", minAgeSeconds: 0 },
];

const fields = [
  "v",
  "model",
  "maxPrice",
  "sessionKey",
  "exclude",
  "needs",
  "policy",
  "minAuditsPassed",
  "nonce",
] as const;

function corpus(): unknown[] {
  const out: unknown[] = [
    valid,
    { ...valid, exclude: [] },
    { ...valid, nonce: "0f".repeat(16) },
    { ...valid, nonce: "0f".repeat(16), exclude: [hex("b")] },
    { ...valid, nonce: "0F".repeat(16) },
    { ...valid, nonce: "0f".repeat(17) },
    { ...valid, exclude: Array.from({ length: 16 }, (_, i) => hex(String(i % 10))) },
    { ...valid, extra: "dropped", nested: { deep: [1, 2] } },
    { ...valid, model: "m".repeat(MAX_MODEL_ID_CHARS) },
    { ...valid, model: "org/Model-7B.q4:f16@v2+x_1" },
    { ...valid, maxPrice: { promptNanoPerToken: "0", completionNanoPerToken: MAX_PRICE_NANO.toString() } },
    { ...valid, maxPrice: { ...valid.maxPrice, extra: 1 } },
    { ...valid, needs: ["tools"] },
    { ...valid, minAuditsPassed: 2 },
    { ...valid, policy: { minStake: "1", minAgeSeconds: 0 } },
    null,
    undefined,
    7,
    "session",
    [],
    [valid],
    JSON.parse('{"__proto__":{"v":1},"v":1}'),
  ];
  for (const field of fields) {
    const { [field as keyof typeof valid]: _, ...without } = valid;
    out.push(without);
    for (const value of junk) out.push({ ...valid, [field]: value });
  }
  for (const value of junk)
    out.push({ ...valid, maxPrice: { ...valid.maxPrice, promptNanoPerToken: value } });
  for (const value of junk)
    out.push({ ...valid, maxPrice: { ...valid.maxPrice, completionNanoPerToken: value } });
  return out;
}

type Outcome = { ok: true; value: unknown } | { ok: false; name: string; code: unknown; message: string };

function outcome(read: () => unknown): Outcome {
  try {
    return { ok: true, value: read() };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, name: e.name, code: e.code, message: e.message };
  }
}

/** Each check against its schema on `inputs`: the number of inputs the hand check took itself. */
function holdToSchema(
  schema: Parameters<typeof parseWith>[0],
  parse: (input: unknown, what: string) => unknown,
  quick: (input: unknown) => unknown,
  inputs: unknown[],
): number {
  let taken = 0;
  for (const input of inputs) {
    const label = JSON.stringify(input, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
    const theirs = outcome(() => parseWith(schema, input, "event"));
    expect(
      outcome(() => parse(input, "event")),
      label,
    ).toStrictEqual(theirs);
    const ours = quick(input);
    if (ours === undefined) continue;
    taken++;
    expect(theirs, label).toStrictEqual({ ok: true, value: ours });
  }
  return taken;
}

describe("hand checks of the pairing path's events against their schemas", () => {
  it("session:request: the schema's output or its typed error on every input, and the common shapes taken by hand", () => {
    const inputs = corpus();
    expect(inputs.length).toBeGreaterThan(250);
    expect(holdToSchema(SessionRequest, parseSessionRequest, quickSessionRequest, inputs)).toBeGreaterThan(
      20,
    );
    // The shapes a requester sends (with and without `exclude`) do not fall through to valibot.
    expect(quickSessionRequest(valid)).toBeDefined();
    expect(quickSessionRequest({ ...valid, exclude: [hex("b")] })).toBeDefined();
    expect(quickSessionRequest({ ...valid, nonce: "0f".repeat(16), exclude: [hex("b")] })).toBeDefined();
  });

  it("session:end likewise", () => {
    const end = { v: 1, sessionId: "Ab9_-x" };
    const ids = ["", "a b", "é", "x".repeat(MAX_ID_CHARS), "x".repeat(MAX_ID_CHARS + 1), 7, null, ["a"]];
    const reasons = ["", "done", "r".repeat(200), "r".repeat(201), 1, null, {}, undefined];
    const inputs: unknown[] = [
      end,
      { ...end, extra: { deep: true } },
      { sessionId: "a" },
      { v: 1 },
      { ...end, v: 2 },
      { ...end, v: "1" },
      null,
      "end",
      [end],
      ...ids.map((sessionId) => ({ ...end, sessionId })),
      ...reasons.map((reason) => ({ ...end, reason })),
    ];
    expect(holdToSchema(SessionEnd, parseSessionEnd, quickSessionEnd, inputs)).toBeGreaterThan(5);
    expect(quickSessionEnd(end)).toStrictEqual(end);
  });

  it("refuses a malformed request as MALFORMED naming the field", () => {
    const bad = outcome(() => parseSessionRequest({ ...valid, sessionKey: hex("A") }, "session:request"));
    expect(bad).toMatchObject({
      ok: false,
      code: "MALFORMED",
      message: expect.stringContaining("sessionKey"),
    });
  });
});
