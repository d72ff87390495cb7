import { describe, expect, it } from "vitest";
import type { RequesterSession } from "../../client/sdk/requester-session";
import type { SessionOpener } from "../../client/sdk/session-opener";
import { SessionSource } from "../../client/sdk/session-source";

/** A session as the source sees it: open, serving "m", its quote live until `runsOutAt`. */
function session(runsOutAt: number) {
  const s = {
    retired: false,
    isOpen: true,
    providerKey: new Uint8Array(32).fill(7),
    prices: new Map([["m", {}]]),
    support: new Map([["m", {}]]),
    quoteLive: () => Date.now() < runsOutAt,
    quoteRunOut: () => Date.now() >= runsOutAt,
    quoteRunsOutAt: () => runsOutAt,
    close: () => {
      s.isOpen = false;
    },
  };
  return s as unknown as RequesterSession;
}

describe("the session source's look at quotes run out", () => {
  it("walks the sessions held once until the soonest quote may have run out, not on every request", async () => {
    let walks = 0;
    const held = [session(Date.now() + 60_000)];
    const opener = {
      sessions: () => {
        walks++;
        return held;
      },
      connectedFor: () => undefined,
      closeAll: () => undefined,
    } as unknown as SessionOpener;
    const source = new SessionSource(opener, {});
    source.poolOf("m").sessions.add("07".repeat(32), held[0]!);
    const room = {
      full: new Set<string>(),
      deadline: Date.now() + 1_000,
      signal: new AbortController().signal,
    };
    for (let i = 0; i < 10; i++) expect((await source.sessionFor("m", [], [], room)).session).toBe(held[0]);
    expect(walks).toBe(1);
    source.close();
  });

  it("still retires a session once its quote has run out", async () => {
    const runsOut = Date.now() + 50;
    const held = [session(runsOut)];
    const opener = {
      sessions: () => held,
      connectedFor: () => undefined,
      openFresh: () => Promise.reject(Object.assign(new Error("none"), { code: "NO_MODEL" })),
      closeAll: () => undefined,
    } as unknown as SessionOpener;
    const source = new SessionSource(opener, {});
    source.poolOf("m").sessions.add("07".repeat(32), held[0]!);
    const room = () => ({
      full: new Set<string>(),
      deadline: Date.now() + 1_000,
      signal: new AbortController().signal,
    });
    expect((await source.sessionFor("m", [], [], room())).session).toBe(held[0]);
    await new Promise((r) => setTimeout(r, 80));
    await expect(source.sessionFor("m", [], [], room())).rejects.toThrow("none");
    expect(held[0]!.retired).toBe(true);
    source.close();
  });
});
