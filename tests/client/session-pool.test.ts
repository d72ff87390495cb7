import { describe, expect, it } from "vitest";
import { SessionPool } from "../../client/sdk/session-pool";

const session = (isOpen = true) => ({ isOpen });

describe("the SDK's pool of sessions per model", () => {
  it("sends each request to the least loaded open session its provider has room in", () => {
    const pool = new SessionPool<{ isOpen: boolean }>();
    pool.add("a", session());
    pool.add("b", session());
    const loads = [pool.begin("a"), pool.begin("a"), pool.begin("b")];
    expect(pool.pick(new Set())?.provider).toBe("b");
    expect(pool.pick(new Set(["b"]))?.provider).toBe("a");
    loads[0]!.end();
    loads[0]!.end(); // counted once
    loads[2]!.end();
    expect(pool.pick(new Set())?.provider).toBe("b");
  });

  it("learns a provider's limit from QUEUE_FULL and forgets it once the provider is idle", () => {
    const pool = new SessionPool<{ isOpen: boolean }>();
    pool.add("a", session());
    const running = [pool.begin("a"), pool.begin("a")];
    const third = pool.begin("a");
    pool.full("a", third.inflight); // refused as the 3rd: takes 2
    third.end();
    expect(pool.pick(new Set())).toBeUndefined();
    running[0]!.end();
    expect(pool.pick(new Set())?.provider).toBe("a");
    pool.begin("a");
    expect(pool.pick(new Set())).toBeUndefined();
  });

  it("drops closed sessions, and wakes waiters when a request ends or a session joins", async () => {
    const pool = new SessionPool<{ isOpen: boolean }>();
    const closing = { isOpen: true };
    pool.add("a", closing);
    closing.isOpen = false;
    expect(pool.count()).toBe(0);
    expect(pool.pick(new Set())).toBeUndefined();

    const waiting = pool.waitForRoom(Date.now() + 10_000);
    pool.add("b", session());
    await expect(waiting).resolves.toBe(true);
    const load = pool.begin("b");
    const again = pool.waitForRoom(Date.now() + 10_000);
    load.end();
    await expect(again).resolves.toBe(true);
  });

  it("gives up waiting at the deadline or on abort", async () => {
    const pool = new SessionPool<{ isOpen: boolean }>();
    await expect(pool.waitForRoom(Date.now() + 20)).resolves.toBe(false);
    const abort = new AbortController();
    const waiting = pool.waitForRoom(Date.now() + 10_000, abort.signal);
    abort.abort();
    await expect(waiting).resolves.toBe(false);
  });
});
