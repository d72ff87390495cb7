import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { flatPrice } from "../../protocol";
import { LogprobEngine } from "../doubles/logprob-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A request that scores given tokens (`score`) and carries `stop` (a program reusing its request,
 * as an audit re-sends the challenge): the provider streams the tokens it was given, whatever
 * they hold, and never cuts them at a sequence (chat-serving reads `stop` only when generating).
 * The requester refused any answer that streams a stop sequence as OVER_REPORT (d6dc164), so the
 * honest provider that scored the caller's own tokens was called a liar and dropped.
 */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

describe("scored tokens that hold a stop sequence", () => {
  it("are scored and answered, the provider not blamed", async () => {
    await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 1 } }),
      models: [{ model: "test-model", price: flatPrice(10n), features: ["logprobs", "scoring"] }],
    });
    const client = await relayClient(url);
    const scored = (await ask(client, "count", {
      score: ["one", ".", " two"],
      stop: ["."],
      logprobs: true,
    })) as ChatCompletion;
    expect(scored.choices[0]?.message.content).toBe("one. two");
    expect(scored.choices[0]?.logprobs?.content?.length).toBe(3);
  }, 30_000);
});
