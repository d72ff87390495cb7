import { describe, expect, it } from "vitest";
import {
  ANSWER_LABEL,
  type AnswerStatement,
  buildStatement,
  type ChatParams,
  generateKeyPair,
  REGISTRATION_LABEL,
  registrationMessage,
  requestHash,
  sign,
  signStatement,
  statementBytes,
  statementMismatch,
  verifySignedAnswer,
} from "../../protocol";

const provider = generateKeyPair();
const params: ChatParams = {
  model: "test-model",
  messages: [{ role: "user", content: "name three rivers" }],
  temperature: 0,
  seed: 7,
  logprobs: true,
  max_tokens: 32,
};
const content = {
  text: "Nile Amazon Yangtze",
  logprobs: [
    { token: "Nile", logprob: -0.1, top_logprobs: [] },
    { token: " Amazon", logprob: -0.2, top_logprobs: [] },
    { token: " Yangtze", logprob: -0.3, top_logprobs: [] },
  ],
};
const facts = {
  session: "s1",
  request: "r1",
  provider: provider.publicKey,
  params,
  content,
  finishReason: "stop" as const,
  promptTokens: 12,
  completionTokens: 3,
};

describe("a provider's signed answer statement", () => {
  it("verifies, and matches the request and content it was built from", () => {
    const signed = signStatement(provider, buildStatement(facts));
    expect(verifySignedAnswer(signed)).toBe(true);
    expect(statementMismatch(signed, params, content)).toBeUndefined();
    expect(signed.statement.logprobs_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("hashes the request whatever the key order, and not the envelope", () => {
    const reordered = {
      max_tokens: 32,
      logprobs: true,
      seed: 7,
      temperature: 0,
      messages: params.messages,
      model: "test-model",
    };
    expect(requestHash(reordered)).toBe(requestHash(params));
    expect(requestHash({ ...params, seed: 8 })).not.toBe(requestHash(params));
    expect(requestHash({ ...params, temperature: 0.5 })).not.toBe(requestHash(params));
    expect(requestHash({ ...params, model: "other" })).not.toBe(requestHash(params));
  });

  it.each<[string, (s: AnswerStatement) => AnswerStatement]>([
    ["session", (s) => ({ ...s, session: "s2" })],
    ["request id", (s) => ({ ...s, request: "r2" })],
    ["model", (s) => ({ ...s, model: "Llama-3.1-8B" })],
    ["request hash", (s) => ({ ...s, request_hash: "00".repeat(32) })],
    ["tokens hash", (s) => ({ ...s, tokens_hash: "00".repeat(32) })],
    ["logprobs hash", (s) => ({ ...s, logprobs_hash: "00".repeat(32) })],
    ["logprobs hash dropped", ({ logprobs_hash: _, ...s }) => s],
    ["finish reason", (s) => ({ ...s, finish_reason: "length" })],
    ["prompt tokens", (s) => ({ ...s, prompt_tokens: 13 })],
    ["completion tokens", (s) => ({ ...s, completion_tokens: 4 })],
    ["provider key", (s) => ({ ...s, provider: Buffer.from(generateKeyPair().publicKey).toString("hex") })],
  ])("a statement with its %s changed is refused", (_field, change) => {
    const signed = signStatement(provider, buildStatement(facts));
    expect(verifySignedAnswer({ ...signed, statement: change(signed.statement) })).toBe(false);
  });

  it("a third party finds a signed answer that does not match the content it is shown with", () => {
    const signed = signStatement(provider, buildStatement(facts));
    expect(statementMismatch(signed, params, { ...content, text: "Nile Amazon Danube" })).toBe(
      "the statement is for other tokens",
    );
    const madeUp = content.logprobs.map((l) => ({ ...l, logprob: l.logprob - 1 }));
    expect(statementMismatch(signed, params, { ...content, logprobs: madeUp })).toBe(
      "the statement is for other logprobs",
    );
    expect(statementMismatch(signed, { ...params, seed: 1 }, content)).toBe(
      "the statement is for another request",
    );
  });

  it("is domain-separated: the same key's registration signature does not verify as an answer", () => {
    const statement = buildStatement(facts);
    const foreign = sign(provider.secretKey, registrationMessage(new Uint8Array(32), statement));
    expect(verifySignedAnswer({ statement, signature: Buffer.from(foreign).toString("hex") })).toBe(false);
    expect(ANSWER_LABEL).not.toBe(REGISTRATION_LABEL);
    expect(new TextDecoder().decode(statementBytes(statement).subarray(4, 4 + ANSWER_LABEL.length))).toBe(
      ANSWER_LABEL,
    );
  });

  it("malformed signed answers do not verify and do not throw", () => {
    const signed = signStatement(provider, buildStatement(facts));
    expect(verifySignedAnswer({ ...signed, signature: "zz" })).toBe(false);
    expect(verifySignedAnswer({ ...signed, statement: { ...signed.statement, provider: "00" } })).toBe(false);
    expect(verifySignedAnswer(null as never)).toBe(false);
  });
});
