import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A request that may not use the only provider of its model (`avoid`, or a provider that refused
 * it) while that provider's session sits in the pool: nobody else serves the model, so the answer
 * is NO_MODEL at once. The pool's session counted as room to wait for, so the request waited out
 * its whole queue deadline (30 s) and ended ALL_BUSY ("stayed busy"), which was not true either.
 */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

describe("a request that avoids the only provider, whose session is pooled", () => {
  it("is told NO_MODEL at once, not made to wait for room on a provider it will not use", async () => {
    const { key } = await relayProvider(url);
    const client = await relayClient(url);
    expect(((await ask(client, "first")) as ChatCompletion).usage.silk?.provider).toBe(key);
    const started = Date.now();
    const err = await ask(client, "not that one", { avoid: [key] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("NO_MODEL");
    expect(Date.now() - started).toBeLessThan(10_000);
    // The pooled session still answers what may use it.
    expect(((await ask(client, "again")) as ChatCompletion).usage.silk?.provider).toBe(key);
  }, 45_000);
});
