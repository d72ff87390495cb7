import { describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { QuoteRefusals, QuoteRefusedLately } from "../../client/sdk/quote-refusal";
import type { RequesterSession } from "../../client/sdk/requester-session";

/** A session as QuoteRefusals sees it: only its provider's key. */
const sessionOf = (byte: number) =>
  ({ providerKey: new Uint8Array(32).fill(byte) }) as unknown as RequesterSession;
const expired = new ProviderError("QUOTE_EXPIRED", "the session's quote has expired");

describe("QUOTE_EXPIRED refusals within one request", () => {
  it("are counted per provider: a second provider's first refusal still gets a fresh session", () => {
    // The count ran across providers: after A refused twice, B (its clock a little ahead) was
    // left at its first refusal, without the fresh session A got.
    const retired: RequesterSession[] = [];
    const q = new QuoteRefusals((s) => retired.push(s));
    const live = new AbortController().signal;
    const [a, b] = [sessionOf(1), sessionOf(2)];
    expect(q.met(expired, a, false, live)).toBe("again");
    expect(q.met(expired, a, false, live)).toBe("leave");
    expect(q.met(expired, b, false, live)).toBe("again");
    expect(q.met(expired, b, false, live)).toBe("leave");
    expect(retired).toEqual([a, a, b, b]);
  });

  it("after tokens, once aborted, or for another error: not such a refusal", () => {
    const q = new QuoteRefusals(() => undefined);
    const live = new AbortController().signal;
    const gone = AbortSignal.abort();
    expect(q.met(expired, sessionOf(1), true, live)).toBeUndefined();
    expect(q.met(expired, sessionOf(1), false, gone)).toBeUndefined();
    expect(q.met(new ProviderError("ENGINE", "x"), sessionOf(1), false, live)).toBeUndefined();
  });
});

describe("providers that lately refused a fresh session's quote too", () => {
  it("are remembered for a while, at most so many, the oldest forgotten first", () => {
    let now = 1_000;
    const lately = new QuoteRefusedLately(() => now, 60_000, 2);
    lately.note("a");
    now += 30_000;
    lately.note("b");
    expect(lately.providers()).toEqual(["a", "b"]);
    // Past its minute, a is forgotten (asked first again); b is not yet.
    now += 30_001;
    expect(lately.providers()).toEqual(["b"]);
    // Bounded: a third forgets the oldest.
    lately.note("c");
    lately.note("d");
    expect(lately.providers()).toEqual(["c", "d"]);
  });

  it("a provider that refused twice in one request is noted; one that refused once is not", () => {
    const lately = new QuoteRefusedLately();
    const q = new QuoteRefusals(() => undefined, lately);
    const live = new AbortController().signal;
    const [a, b] = [sessionOf(1), sessionOf(2)];
    q.met(expired, a, false, live);
    q.met(expired, b, false, live);
    expect(lately.providers()).toEqual([]);
    q.met(expired, a, false, live);
    expect(lately.providers()).toEqual(["01".repeat(32)]);
  });
});
