import { afterEach, describe, expect, it } from "vitest";
import { OverReportError } from "../../client/sdk/errors";
import { TOKENS_AFTER_CANCEL } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { matches } from "../support/mitm-signaling";
import { labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The caller cancels a streamed answer on a relayed session whose server has stopped taking the
 * requester's frames (none acked, none carried): the cancel never reaches the provider, which
 * streams on. Past TOKENS_AFTER_CANCEL tokens the requester stops paying; it used to end the
 * request OverReportError, "provider streamed more than 32 tokens after the request was
 * cancelled", blaming a provider that was never told. Now the provider is blamed only for what
 * it streams after the cancel left; otherwise the request ends as the caller's cancel (an
 * AbortError saying the cancel had not reached the provider), and the session is closed, which
 * stops the provider's engine.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

describe("a cancel the relay does not carry", () => {
  it("ends as the caller's cancel, the provider not blamed, its engine stopped by the session's close", async () => {
    let carrying = true;
    const mitm = await mitmNetwork([
      (m) =>
        !carrying && matches(m, { event: "session:frame", direction: "to-server", label: "requester" })
          ? null
          : undefined,
    ]);
    const words = Array.from({ length: 3 * TOKENS_AFTER_CANCEL }, (_, i) => `w${i}`).join(" ");
    const engine = new ScriptedEngine({ models: ["test-model"], reply: () => words, tokenDelayMs: 20 });
    await relayProvider(labelled(mitm.url, "provider"), { engine, creditWindowTokens: 1_000 });
    const c = await relayClient(labelled(mitm.url, "requester"), { receiptEvery: 1_000 });
    const stream = await c.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "go" }],
      stream: true,
    });
    let chunks = 0;
    const ended = await (async () => {
      for await (const _ of stream) {
        if (++chunks === 3) {
          carrying = false;
          stream.controller.abort();
        }
      }
      return undefined;
    })().catch((e: unknown) => e);
    expect(ended).not.toBeInstanceOf(OverReportError);
    expect(ended).toBeInstanceOf(Error);
    expect((ended as Error).name).toBe("AbortError");
    expect((ended as Error).message).toContain("the cancel had not reached the provider");
    // Nothing past the cancel's allowance was delivered; the provider's generation stopped.
    expect(chunks).toBeLessThanOrEqual(3 + TOKENS_AFTER_CANCEL + 2);
    await expect.poll(() => engine.activeGenerations, { timeout: 15_000 }).toBe(0);
    expect(engine.generatedTokens).toBeLessThan(3 * TOKENS_AFTER_CANCEL);
  }, 60_000);
});
