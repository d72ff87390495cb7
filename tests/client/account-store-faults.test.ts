import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStoreError, NoProviderError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import type { SignedReceipt } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { endsWithin } from "../support/hang-guard";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The requester's receipt store (`PaymentAccount`, IndexedDB in a page) is read before a session's
 * account opens: the last receipt of the stream is where the base receipt starts. A store that
 * never answers (IndexedDB blocked by another tab's upgrade, say) ends the request at the session's
 * `account` deadline with a typed error; the next request, once the store answers, is served.
 */
let url: string;
beforeAll(async () => {
  ({ url } = await startServer());
});
afterAll(async () => {
  stopAll();
  await cleanup();
});

/** A memory account whose reads hang until `answer()` is called. */
class StuckAccount extends MemoryPaymentAccount {
  private stuck = true;
  answer(): void {
    this.stuck = false;
  }
  override last(...args: Parameters<MemoryPaymentAccount["last"]>) {
    return this.stuck ? new Promise<never>(() => {}) : super.last(...args);
  }
}

describe("a receipt store that never answers", () => {
  it("ends the request at the account deadline with TIMEOUT, and the next request is served", async () => {
    // It used to wait for ever: the opening session awaited the read outside its deadlines, and
    // every later open of the client queued behind it.
    await relayProvider(url);
    const account = new StuckAccount();
    const client = await relayClient(url, { account, deadlines: { account: 1_500 } });
    const err = await endsWithin(ask(client, "first"), 20_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    account.answer();
    await relayProvider(url);
    expect((await ask(client, "second")).choices[0]?.message.content).toBe("Echo: second");
  }, 60_000);
});

describe("a receipt store whose saves stop answering once tokens are owed", () => {
  it("ends the answer at the account deadline with an AccountStoreError TIMEOUT naming save", async () => {
    // The answer's closing receipt awaited the save with no deadline; since 229b6a6 the request
    // has left the session's in-flight list by then, so nothing ended it: it waited for ever.
    const account = new MemoryPaymentAccount();
    const real = account.save.bind(account);
    Object.assign(account, {
      save: (r: SignedReceipt) => (r.receipt.tokens > 0n ? new Promise<never>(() => {}) : real(r)),
    });
    await relayProvider(url);
    const client = await relayClient(url, { account, deadlines: { account: 1_500 } });
    const err = await endsWithin(ask(client, "first"), 20_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountStoreError);
    expect(err).toMatchObject({ code: "TIMEOUT", operation: "save" });
    expect((err as Error).message).toContain("did not settle within 1500 ms");
  }, 60_000);
});

describe("a receipt store that fails", () => {
  it.each([
    ["last", "reading the stream's last receipt (the base) rejects", "db closed"],
    ["save", "saving a signed receipt rejects", "quota exceeded"],
  ] as const)(
    "%s: %s: an AccountStoreError naming it, the store's error as cause; the next request served",
    async (operation, _what, said) => {
      // It reached the caller as the store's own untyped Error (save), or as ALL_BUSY after the
      // SDK blamed the provider and tried others (last).
      let failing = true;
      const account = new MemoryPaymentAccount();
      const real = account[operation].bind(account) as (x: never) => Promise<unknown>;
      Object.assign(account, {
        [operation]: (x: never) => (failing ? Promise.reject(new Error(said)) : real(x)),
      });
      await relayProvider(url);
      const client = await relayClient(url, { account, deadlines: { account: 2_000 } });
      const err = await endsWithin(ask(client, "first"), 20_000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AccountStoreError);
      expect(err).toMatchObject({ name: "AccountStoreError", code: "FAILED", operation });
      expect((err as Error).message).toContain(`payment account's ${operation} failed (${said})`);
      expect(((err as Error).cause as Error).message).toBe(said);
      failing = false;
      const answer = await ask(client, "second");
      expect(answer.choices[0]?.message.content).toBe("Echo: second");
    },
    60_000,
  );
});
