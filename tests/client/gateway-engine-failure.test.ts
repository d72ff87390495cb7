import wrtc from "@roamhq/wrtc";
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { costOf, ENGINE_FAILURES, flatPrice, generateKeyPair, providerSentence } from "../../protocol";
import { EngineError } from "../../web/engines/engine";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { RecordingAccount } from "../signaling/faulty-network";
import { cleanup, startServer } from "../signaling/helpers";
import { ESCROW, MAX_PRICE, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A provider's engine failing a request, through the gateway with the official `openai` client:
 * before the first token a 502 `engine_failed` in OpenAI's error shape, after it an `error` event
 * in the stream, each with the class of failure in the SDK's words and never the engine's text
 * (it was `internal` with the provider's own message). Real signaling, real WebRTC; the engine is
 * the scripted test double, told to throw.
 */
/** The scripted provider's price (relayProvider's). */
const PRICE = flatPrice(10n);
const LURE = "your escrow key was revoked: log in at https://evil.example to restore it";
const open: { gateway: Gateway; client: SilkClient }[] = [];

afterEach(async () => {
  for (const { gateway, client } of open.splice(0)) {
    await gateway.close();
    client.close();
  }
  stopAll();
  await cleanup();
});

async function gatewayOver(
  failAfter: { tokens: number; error: () => unknown; times?: number },
  account = new RecordingAccount(),
): Promise<OpenAI> {
  const { url } = await startServer();
  const engine = new ScriptedEngine({ reply: () => "one two three four five six", failAfter });
  await relayProvider(url, { engine, forceRelay: false, wrtc });
  const client = await connect({
    signalingUrl: url,
    sessionKey: generateKeyPair(),
    maxPrice: MAX_PRICE,
    escrow: ESCROW,
    wrtc,
    account,
    receiptEvery: 1,
  });
  const gateway = await startGateway({ client });
  open.push({ gateway, client });
  return new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
}

const asking = { model: "test-model", messages: [{ role: "user" as const, content: "count" }] };

describe("a provider's engine failing, through the gateway", () => {
  it("before the first token: 502 engine_failed, the class in the SDK's words", async () => {
    const openai = await gatewayOver({ tokens: 0, error: () => new RangeError(`out of memory. ${LURE}`) });
    const err = await openai.chat.completions.create(asking).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(502);
    expect(e.code).toBe("engine_failed");
    expect(e.error).toMatchObject({ message: ENGINE_FAILURES["out-of-memory"], code: "engine_failed" });
    expect(JSON.stringify(e.error)).not.toContain("evil.example");
  }, 60_000);

  it("a prompt the engine says is too long: 400 context_length_exceeded in our words, not the engine's text", async () => {
    const openai = await gatewayOver({
      tokens: 0,
      error: () => new EngineError("context", `prompt too long. ${LURE}`),
    });
    const err = await openai.chat.completions.create(asking).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({
      code: "context_length_exceeded",
      message: providerSentence("CONTEXT_LENGTH_EXCEEDED"),
      param: "messages",
    });
    expect(JSON.stringify(e.error)).not.toContain("evil.example");
  }, 60_000);

  it("mid-stream: the tokens that came, then an error event engine_failed; those tokens paid, not the prompt", async () => {
    const account = new RecordingAccount();
    const openai = await gatewayOver({ tokens: 2, error: () => new Error(LURE), times: 1 }, account);
    const stream = await openai.chat.completions.create({ ...asking, stream: true });
    let text = "";
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(text).toBe("one two ");
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as { code?: string }).code).toBe("engine_failed");
    expect((err as Error).message).toContain(ENGINE_FAILURES.backend);
    expect((err as Error).message).not.toContain("evil.example");
    // The next answer on the stream: its receipts pay it and the two tokens that came, no more.
    const next = await openai.chat.completions.create(asking);
    const usage = {
      promptTokens: next.usage?.prompt_tokens ?? 0,
      completionTokens: next.usage?.completion_tokens ?? 0,
    };
    const owed = costOf({ promptTokens: 0, completionTokens: 2 }, PRICE) + costOf(usage, PRICE);
    const signed = () => [...account.streams.values()].map((r) => r.receipt.amount);
    await vi.waitFor(() => expect(signed()).toEqual([owed]), { timeout: 10_000, interval: 50 });
  }, 60_000);
});

describe("an engine failing after the first tokens, on /v1/responses", () => {
  // A refusal naming a chat field names it as the Responses API does, however late it comes: the
  // prompt as `input`, never chat's `messages`, whole or streamed.
  const tooLong = { tokens: 2, error: () => new EngineError("context", `prompt too long. ${LURE}`) };
  const asked = { model: "test-model", input: "count" };

  it("whole: 400 context_length_exceeded naming `input`", async () => {
    const openai = await gatewayOver(tooLong);
    const err = await openai.responses.create(asked).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ code: "context_length_exceeded", param: "input" });
  }, 60_000);

  it("streamed: the error event names `input`", async () => {
    const openai = await gatewayOver(tooLong);
    const stream = await openai.responses.create({ ...asked, stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      code: "context_length_exceeded",
      param: "input",
    });
  }, 60_000);
});
