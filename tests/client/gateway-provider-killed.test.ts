import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { connect } from "../../client/sdk/silk-client";
import { generateKeyPair } from "../../protocol";
import { RecordingAccount } from "../signaling/faulty-network";
import { cleanup, startServer } from "../signaling/helpers";
import { killProviderProcesses, startProviderProcess } from "../support/provider-process";
import { ESCROW, MAX_PRICE } from "../support/silk-parties";

/**
 * A provider that vanishes mid-stream: its process killed (SIGKILL, as a crashed machine), so no
 * close is said on any channel, on a direct WebRTC channel. Through the gateway, the streamed
 * answer ends with a typed error event within the requester's frame deadline (and the failover's
 * search: about 9 s, client/README.md), and the requester signed no receipt for more tokens than
 * reached it. A guard: it passed on the code before it.
 */
const FRAME_MS = 1_500;
const LONG = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
/** The scripted engine's count for the one-message prompt "hello". */
const PROMPT_TOKENS = 14;

let gateway: Gateway | undefined;
afterAll(async () => {
  await gateway?.close();
  killProviderProcesses();
  await cleanup();
});

describe("a provider process killed mid-stream, through the gateway", () => {
  it("the stream ends with a typed error event in time, and no receipt covers tokens that never came", async () => {
    const { url } = await startServer();
    const provider = await startProviderProcess(url, { tokenDelayMs: 100, reply: LONG });
    const account = new RecordingAccount();
    const client = await connect({
      signalingUrl: url,
      sessionKey: generateKeyPair(),
      maxPrice: MAX_PRICE,
      escrow: ESCROW,
      account,
      wrtc,
      receiptEvery: 4,
      deadlines: { frame: FRAME_MS },
    });
    gateway = await startGateway({ client });
    const openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "hello" }],
      stream: true,
    });
    let words = 0;
    let killedAt = 0;
    const err = await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) words++;
        if (words === 5 && killedAt === 0) {
          killedAt = Date.now();
          await provider.kill();
        }
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as { code?: string }).code).toMatch(/^(provider_lost|stalled)$/);
    const receipts = [...account.streams.values()];
    const signed = receipts.reduce((n, r) => n + Number(r.receipt.tokens), 0);
    expect(signed).toBeLessThanOrEqual(PROMPT_TOKENS + words);
    client.close();
  }, 90_000);
});
