import { describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { QuoteRefusals } from "../../client/sdk/quote-refusal";
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
