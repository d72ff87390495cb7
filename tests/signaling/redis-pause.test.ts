import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { FaultNodes } from "./fault-nodes";
import {
  ask,
  directory,
  expectWholeAnswer,
  inFlight,
  LONG_QUESTION,
  placesInUse,
  until,
  within,
} from "./faulty-network";

/**
 * Redis paused (SIGSTOP), not gone: its connections stay open, so what a node sent meanwhile is
 * not lost but run late, after the node's deadline has already answered the request with an
 * error. A pairing that timed out must not then hold a provider's place for nobody.
 */
let scene: FaultNodes;
afterEach(() => scene.close());

/** The node's Redis command deadline (5 s) and a loaded machine's slack. */
const BOUND_MS = 20_000;
/** Past the deadline (5 s) of commands sent well into the pause (the session end, ~4 s in). */
const PAUSE_MS = 12_000;

describe("Redis paused past the node's deadline, then resumed", () => {
  it("an end and a pairing meanwhile end typed, and once Redis moves again the provider's every place is free", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two();
    await scene.net.provider(a.url, { tokenDelayMs: 60 });
    const { client: before } = await scene.net.requester(a.url);
    // On b, which has paired nobody yet: no leased pool, so its pairing goes to Redis.
    const { client: paused } = await scene.net.requester(b.url);
    const { client: second } = await scene.net.requester(a.url);

    // An answer streaming when Redis stops: it ends, and its session with it, while Redis is
    // paused (the first session end this Redis is sent, so its script is not cached there yet).
    const running = inFlight(before, 60_000);
    await within(running.started, 30_000, "the answer's first token");
    const redis = scene.redis!;
    redis.pause();
    let resumed = false;
    const resume = setTimeout(() => {
      resumed = true;
      redis.resume();
    }, PAUSE_MS);
    try {
      const start = Date.now();
      const err = await within(
        ask(paused).catch((e: unknown) => e),
        BOUND_MS,
        "the pairing's end",
      );
      expect(Date.now() - start).toBeLessThan(BOUND_MS);
      expect(err).toBeInstanceOf(NoProviderError);
      expect((err as NoProviderError).code).toBe("DIRECTORY_UNAVAILABLE");
      expect(await running.done).toEqual({ ok: true, text: `Echo: ${LONG_QUESTION}`, failovers: 0 });
      expect(resumed).toBe(false);
    } finally {
      await new Promise((r) => setTimeout(r, PAUSE_MS + 200));
      clearTimeout(resume);
      if (!resumed) redis.resume();
    }

    // Both places must come back: the market view says nothing is in use, and two requesters at
    // once get both of the provider's places.
    await until(async () => placesInUse(await directory(b.url)) === 0, "nothing in use again", BOUND_MS);
    const one = inFlight(paused, 60_000);
    await within(one.started, 30_000, "the first answer's first token");
    const two = inFlight(second, 60_000);
    const [o1, o2] = await Promise.all([one.done, two.done]);
    expectWholeAnswer(o1);
    expectWholeAnswer(o2);
    expect([o1.ok, o2.ok]).toEqual([true, true]);
  }, 120_000);
});
