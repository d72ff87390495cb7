import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStoreError, ProviderError } from "../../client/sdk/errors";
import type { ChatCompletion } from "../../client/sdk/openai-shapes";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import {
  buildStatement,
  type ChatRequest,
  encodePublicKey,
  flatPrice,
  generateKeyPair,
  offerToWire,
  type SecureSession,
  signStatement,
  statementMismatch,
  verifySignedAnswer,
} from "../../protocol";
import { LogprobEngine } from "../doubles/logprob-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { endsWithin } from "../support/hang-guard";
import { pipedSession } from "../support/piped-session";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/** Issue 16: every answer ends with the provider's signed statement, checked and kept by the requester. */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

const LOGPROB_MODELS = [{ model: "test-model", price: flatPrice(10n), features: ["logprobs" as const] }];
const challenge = { temperature: 0, seed: 3, logprobs: true, max_tokens: 12 };

describe("signed answers through the network", () => {
  it("an answer carries a signed statement of the request, tokens and logprobs that a third party verifies", async () => {
    const { key } = await relayProvider(url, {
      engine: new LogprobEngine({ model: { seed: 1 } }),
      models: LOGPROB_MODELS,
    });
    const account = new MemoryPaymentAccount();
    const client = await relayClient(url, { account });
    const answer = (await ask(client, "where does the river run", challenge)) as ChatCompletion;
    const signed = answer.usage.silk?.signed_answer;
    expect(signed).toBeDefined();
    expect(verifySignedAnswer(signed!)).toBe(true);
    expect(signed!.statement).toMatchObject({
      provider: key,
      model: "test-model",
      finish_reason: "length",
      completion_tokens: 12,
      prompt_tokens: answer.usage.prompt_tokens,
    });
    const content = {
      text: answer.choices[0]!.message.content!,
      logprobs: answer.choices[0]!.logprobs!.content,
    };
    const request = {
      model: "test-model",
      messages: [{ role: "user" as const, content: "where does the river run" }],
      ...challenge,
    };
    expect(statementMismatch(signed!, request, content)).toBeUndefined();
    expect(statementMismatch(signed!, { ...request, seed: 4 }, content)).toBe(
      "the statement is for another request",
    );
    expect(account.answers).toContainEqual(signed);
  }, 30_000);

  it("an account that cannot keep the statement (its store fails, or never answers) still gets the answer, the statement with it", async () => {
    // The answer, verified and paid for, used to wait on keeping its statement: a store that
    // failed left the request unanswered for ever (and its rejection unhandled), as did one that hung.
    const failing = Object.assign(new MemoryPaymentAccount(), {
      keepAnswer: () => Promise.reject(new Error("quota exceeded")),
    });
    const hanging = Object.assign(new MemoryPaymentAccount(), {
      keepAnswer: () => new Promise<void>(() => {}),
    });
    const cases = [
      { account: failing, code: "FAILED", says: /keepAnswer failed \(quota exceeded\)/ },
      { account: hanging, code: "TIMEOUT", says: /keepAnswer did not settle within 2000 ms/ },
    ] as const;
    for (const { account, code, says } of cases) {
      // One provider each: the other client's session holds its place while it idles.
      await relayProvider(url, { engine: new LogprobEngine({ model: { seed: 1 } }), models: LOGPROB_MODELS });
      // The app hears that its store failed: the answer alone would never tell it.
      const told: AccountStoreError[] = [];
      const client = await relayClient(url, {
        account,
        deadlines: { account: 2_000 },
        onAccountError: (e) => told.push(e),
      });
      const answer = (await endsWithin(ask(client, "keep it", challenge), 15_000)) as ChatCompletion;
      expect(answer.usage.completion_tokens).toBe(12);
      expect(verifySignedAnswer(answer.usage.silk!.signed_answer!)).toBe(true);
      await expect.poll(() => told.length, { timeout: 10_000 }).toBe(1);
      expect(told[0]).toBeInstanceOf(AccountStoreError);
      expect(told[0]).toMatchObject({ name: "AccountStoreError", code, operation: "keepAnswer" });
      expect(told[0]!.message).toMatch(says);
      if (code === "FAILED") expect((told[0]!.cause as Error).message).toBe("quota exceeded");
    }
  }, 60_000);

  it("a store that keeps the statement tells onAccountError nothing", async () => {
    await relayProvider(url, { engine: new LogprobEngine({ model: { seed: 1 } }), models: LOGPROB_MODELS });
    const account = new MemoryPaymentAccount();
    const told: AccountStoreError[] = [];
    const client = await relayClient(url, {
      account,
      deadlines: { account: 2_000 },
      onAccountError: (e) => told.push(e),
    });
    await ask(client, "kept", challenge);
    await expect.poll(() => account.answers.length, { timeout: 10_000 }).toBe(1);
    // Past the deadline a hanging store would have been told at: nothing for a store that kept it.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(told).toEqual([]);
  }, 30_000);

  it("a streamed answer's usage carries the signed statement too", async () => {
    await relayProvider(url, { engine: new LogprobEngine({ model: { seed: 1 } }), models: LOGPROB_MODELS });
    const client = await relayClient(url);
    const stream = await ask(client, "stream it", {
      ...challenge,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let signed: unknown;
    for await (const chunk of stream as unknown as AsyncIterable<{
      choices: { delta: { content?: string } }[];
      usage?: { silk?: { signed_answer?: unknown } };
    }>) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) signed = chunk.usage.silk?.signed_answer;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(verifySignedAnswer(signed as never)).toBe(true);
  }, 30_000);
});

/** A provider that answers honestly but signs a statement of something else. */
async function lyingSession(sign: (req: ChatRequest, session: SecureSession) => string) {
  return pipedSession((provider) => {
    const price = flatPrice(1n);
    provider.onMessage((m) => {
      if (m.t === "receipt" && m.receipt)
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price })],
        });
      if (m.t !== "request") return;
      void (async () => {
        await provider.send({ v: 1, t: "tokens", id: m.id, text: "true words", count: 2, total: 2 });
        await provider.send({
          v: 1,
          t: "done",
          id: m.id,
          finish_reason: "stop",
          usage: { prompt_tokens: 10, completion_tokens: 2 },
          signature: sign(m, provider),
        });
      })();
    });
  });
}

describe("a statement that does not hold", () => {
  const input = { model: "test-model", messages: [{ role: "user" as const, content: "hi" }] };
  const facts = (req: ChatRequest, s: SecureSession, key: Uint8Array) => ({
    session: s.info.sessionId,
    request: req.id,
    provider: key,
    params: req,
    content: { text: "true words" },
    finishReason: "stop" as const,
    promptTokens: 10,
    completionTokens: 2,
  });

  it("is refused when it signs other tokens than were sent (BAD_STATEMENT)", async () => {
    let identity = generateKeyPair();
    const { requester } = await lyingSession((req, s) => {
      const statement = buildStatement({
        ...facts(req, s, identity.publicKey),
        content: { text: "other words" },
      });
      return signStatement(identity, statement).signature;
    }).then((r) => {
      identity = r.identity;
      return r;
    });
    const err = await requester.request(input, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("BAD_STATEMENT");
  });

  it("is refused when signed by a key other than the provider's identity", async () => {
    const stranger = generateKeyPair();
    const { requester } = await lyingSession(
      (req, s) => signStatement(stranger, buildStatement(facts(req, s, stranger.publicKey))).signature,
    );
    const err = await requester.request(input, () => undefined).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe("BAD_STATEMENT");
  });

  it("an honest statement from the same hand-written provider is accepted (the test can fail)", async () => {
    let key: Uint8Array | undefined;
    const made = await lyingSession(
      (req, s) => signStatement(made.identity, buildStatement(facts(req, s, key!))).signature,
    );
    key = made.identity.publicKey;
    const result = await made.requester.request(input, () => undefined);
    expect(result.text).toBe("true words");
    expect(result.signedAnswer?.statement.provider).toBe(encodePublicKey(key));
  });
});
