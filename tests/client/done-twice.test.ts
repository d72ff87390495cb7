import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import {
  buildStatement,
  type ChatRequest,
  flatPrice,
  generateKeyPair,
  offerToWire,
  type SecureSession,
  type SignedReceipt,
  signStatement,
} from "../../protocol";
import { endsWithin } from "../support/hang-guard";
import { pipedSession } from "../support/piped-session";

/**
 * A lying provider (not the server) that ends one answer twice, or streams on after its `done`,
 * in one burst: the second `done` (or the late tokens) reached the requester while the first
 * `done`'s bad statement was being signed for, found the request still in flight, and finished
 * its ledger entry a second time, which threw inside the un-awaited `onDone` (a rejection nobody handled) or, for the tokens, out
 * of the transport's timer (an uncaught exception): Node ends a gateway on either, where a typed
 * error was owed and nothing more.
 */
const input = { model: "test-model", messages: [{ role: "user" as const, content: "hi" }] };
const price = flatPrice(1n);

function liar(after: (provider: SecureSession, req: ChatRequest, done: Record<string, unknown>) => void) {
  const account = new MemoryPaymentAccount();
  const saved: SignedReceipt[] = [];
  const save = account.save.bind(account);
  // A store that takes a moment (IndexedDB, a file), as real ones do.
  account.save = async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    saved.push(r);
    return save(r);
  };
  const made = pipedSession((provider) => {
    provider.onMessage((m) => {
      if (m.t === "receipt" && m.receipt)
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price })],
        });
      if (m.t !== "request") return;
      // Signed by a stranger: a statement the requester refuses (BAD_STATEMENT).
      const stranger = generateKeyPair();
      const statement = buildStatement({
        session: provider.info.sessionId,
        request: m.id,
        provider: stranger.publicKey,
        params: m,
        content: { text: "true words" },
        finishReason: "stop",
        promptTokens: 10,
        completionTokens: 2,
      });
      const done = {
        v: 1,
        t: "done",
        id: m.id,
        finish_reason: "stop",
        usage: { prompt_tokens: 10, completion_tokens: 2 },
        signature: signStatement(stranger, statement).signature,
      };
      void provider.send({ v: 1, t: "tokens", id: m.id, text: "true words", count: 2, total: 2 });
      void provider.send(done as never);
      after(provider, m, done);
    });
  }, account);
  return made.then((r) => ({ ...r, saved }));
}

describe("a provider that ends an answer more than once", () => {
  const unhandled: unknown[] = [];
  const onRejection = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onRejection);
  });
  afterEach(() => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onRejection);
  });

  const cases = {
    "a second done": (p: SecureSession, _m: ChatRequest, done: Record<string, unknown>) =>
      void p.send(done as never),
    "tokens after its done": (p: SecureSession, m: ChatRequest) =>
      void p.send({ v: 1, t: "tokens", id: m.id, text: "more", count: 1, total: 3 }),
  };
  for (const [name, after] of Object.entries(cases)) {
    it(`${name}: the request fails BAD_STATEMENT once, nothing is thrown into the void, the prompt is billed once`, async () => {
      const { requester, saved } = await liar(after);
      const err = await endsWithin(
        requester.request(input, () => undefined).catch((e: unknown) => e),
        5_000,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).code).toBe("BAD_STATEMENT");
      await requester.whenClosed();
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled).toEqual([]);
      // Paid for what was verified, once: 2 completion tokens and the 10 prompt tokens.
      const last = saved.at(-1)?.receipt;
      expect(last?.tokens).toBe(12n);
    });
  }
});
