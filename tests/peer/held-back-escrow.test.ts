import { Address } from "@ton/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  flatPrice,
  HELD_BACK_FOR_OTHERS,
  NETWORK_ID,
  SecureSession,
  type SessionMessageInput,
} from "../../protocol";
import { HttpEngine } from "../../provider/engines/http-engine";
import { EscrowBook } from "../../provider/escrow-book";
import { startOpenAiBackend } from "../doubles/openai-backend";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";
import { ESCROW, refusedWith, stopAll, wrtcClient, wrtcProvider } from "../support/silk-parties";

/**
 * A provider's own ledger refusing a session whose escrow could pay: it requires a reserve for
 * itself beyond a credit window (`--unreserved-nano`), or what the escrow can pay is owed to it
 * already on the requester's other streams. That is not the escrow's "out of funds" (a top-up is
 * not what helps, and every provider would not say it): ESCROW_HELD_BACK, in words that say why,
 * and the request goes to another provider. An older SDK, which does not list the code in its
 * base receipt's `knows`, is sent OUT_OF_FUNDS, as before. Real WebRTC, real signaling.
 */
afterEach(async () => {
  vi.restoreAllMocks();
  stopAll();
  await cleanup();
});

/** A book that has read the escrow funded with 1,000 TON; `unreserved` as `--unreserved-nano`. */
function fundedBook(unreserved?: bigint): EscrowBook {
  const book = new EscrowBook(undefined, Date.now, unreserved !== undefined ? { unreserved } : {});
  book.update(Address.parse(ESCROW), { codeHash: "", balance: 10n ** 12n, state: undefined });
  return book;
}

async function ask(url: string, content: string) {
  const client = await wrtcClient(url);
  return client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content }] }).then(
    (answer) => ({ answer, err: undefined }),
    (err: unknown) => ({ answer: undefined, err: err as Error & { code?: string } }),
  );
}

describe("a provider that requires a reserve for itself, and no reserve for it on the escrow", () => {
  it("alone: ESCROW_HELD_BACK saying a reserve for it helps, not 'top it up'; nothing streamed", async () => {
    const { url } = await startServer();
    const strict = await wrtcProvider(url, { book: fundedBook(0n), payout: `0:${"33".repeat(32)}` });
    const { err } = await ask(url, "held back");
    expect(err?.code).toBe("ESCROW_HELD_BACK");
    expect(err?.message).toContain("raise a reserve for this provider");
    expect(err?.message).not.toContain("top it up");
    expect(refusedWith(strict.events)).toEqual(["ESCROW_HELD_BACK"]);
    expect(strict.engine.generatedTokens).toBe(0);
  }, 30_000);

  it("with another provider on offer: the request goes there and is answered", async () => {
    const { url } = await startServer();
    // The cheaper one, so the server offers it first.
    const strict = await wrtcProvider(url, {
      book: fundedBook(0n),
      payout: `0:${"33".repeat(32)}`,
      models: [{ model: "test-model", price: flatPrice(5n) }],
    });
    await wrtcProvider(url, { payout: `0:${"22".repeat(32)}` });
    const { answer, err } = await ask(url, "anyone else");
    expect(err).toBeUndefined();
    expect(answer?.choices[0]?.message.content).toBe("Echo: anyone else");
    expect(refusedWith(strict.events)).toEqual(["ESCROW_HELD_BACK"]);
  }, 30_000);

  it("to an older SDK (no `knows` in its base receipt): OUT_OF_FUNDS, the code it reads", async () => {
    const { url } = await startServer();
    const strict = await wrtcProvider(url, { book: fundedBook(0n), payout: `0:${"33".repeat(32)}` });
    // An SDK from before ESCROW_HELD_BACK: its base receipt lists no newer codes.
    const send = SecureSession.prototype.send;
    vi.spyOn(SecureSession.prototype, "send").mockImplementation(function (
      this: SecureSession,
      m: SessionMessageInput,
    ) {
      if (m.t !== "receipt") return send.call(this, m);
      const { knows: _, ...older } = m;
      return send.call(this, older);
    });
    const { err } = await ask(url, "older");
    expect(err?.code).toBe("OUT_OF_FUNDS");
    expect(refusedWith(strict.events)).toEqual(["ESCROW_HELD_BACK"]);
  }, 30_000);
});

describe("a provider owed on the requester's other streams what the escrow can pay", () => {
  it("ESCROW_HELD_BACK saying what its other streams are owed; the escrow's own shortage stays OUT_OF_FUNDS", async () => {
    const { url } = await startServer();
    const book = fundedBook();
    const payout = `0:${"33".repeat(32)}`;
    // Another of the requester's keys (epoch 1) was served all the escrow can pay, not yet claimed.
    const other = {
      network: NETWORK_ID.devnet,
      escrow: Address.parse(ESCROW),
      payout: Address.parse(payout),
      keyEpoch: 1,
    };
    book.track(other);
    book.held(other, book.view(Address.parse(ESCROW)).available);
    const owed = await wrtcProvider(url, { book, payout });
    const { err } = await ask(url, "owed elsewhere");
    expect(err?.code).toBe("ESCROW_HELD_BACK");
    expect(err?.message).toContain("owed already to this provider on its other streams");
    expect(refusedWith(owed.events)).toEqual(["ESCROW_HELD_BACK"]);

    // An escrow with nothing it could pay: the escrow's own refusal, as any provider would say.
    const empty = new EscrowBook();
    empty.update(Address.parse(ESCROW), { codeHash: "", balance: 0n, state: undefined });
    const broke = await wrtcProvider(url, { book: empty, payout: `0:${"44".repeat(32)}` });
    owed.runtime.stop();
    const second = await ask(url, "empty escrow");
    expect(second.err?.code).toBe("OUT_OF_FUNDS");
    expect(refusedWith(broke.events)).toEqual(["OUT_OF_FUNDS"]);
  }, 30_000);
});

describe("a provider's refusal about itself after tokens of the answer came", () => {
  it("ends the answer there, typed, never asked again from the start of another provider", async () => {
    const { url } = await startServer();
    // Its engine fails after 3 tokens, once; a lying provider says ESCROW_HELD_BACK rather than ENGINE.
    const engine = new ScriptedEngine({
      reply: () => "one two three four five",
      failAfter: { tokens: 3, error: () => new Error("gone"), times: 1 },
    });
    // The cheaper one, asked first.
    await wrtcProvider(url, {
      engine,
      payout: `0:${"33".repeat(32)}`,
      models: [{ model: "test-model", price: flatPrice(5n) }],
    });
    const other = await wrtcProvider(url, { payout: `0:${"22".repeat(32)}` });
    const send = SecureSession.prototype.send;
    vi.spyOn(SecureSession.prototype, "send").mockImplementation(function (
      this: SecureSession,
      m: SessionMessageInput,
    ) {
      if (m.t !== "error" || m.error.code !== "ENGINE") return send.call(this, m);
      return send.call(this, { ...m, error: { code: "ESCROW_HELD_BACK", message: HELD_BACK_FOR_OTHERS } });
    });
    const client = await wrtcClient(url);
    let text = "";
    const err = await (async () => {
      const stream = await client.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "count" }],
        stream: true,
      });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    // Shown once, not again from the start by the other provider (whose tokens would be paid too).
    expect(text).toBe("one two three ");
    expect(err).toMatchObject({ code: "ESCROW_HELD_BACK" });
    expect(other.events.filter((e) => e.type === "request-done")).toHaveLength(0);
  }, 30_000);
});

describe("mid-session: the provider's other streams of the escrow came to be owed what it can pay", () => {
  /** A provider with a funded book, and a way to have its other stream (key epoch 1) owed all the escrow can pay. */
  async function owedLater(url: string, payout: string, price = 10n) {
    const book = fundedBook();
    const p = await wrtcProvider(url, {
      book,
      payout,
      models: [{ model: "test-model", price: flatPrice(price) }],
    });
    const oweElsewhere = () => {
      const other = {
        network: NETWORK_ID.devnet,
        escrow: Address.parse(ESCROW),
        payout: Address.parse(payout),
        keyEpoch: 1,
      };
      book.track(other);
      book.held(other, book.view(Address.parse(ESCROW)).available);
    };
    return { ...p, oweElsewhere };
  }

  async function asker(url: string) {
    const client = await wrtcClient(url);
    return (content: string) =>
      client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content }] }).then(
        (answer) => ({ answer, err: undefined }),
        (err: unknown) => ({ answer: undefined, err: err as Error & { code?: string } }),
      );
  }

  it("alone: ESCROW_HELD_BACK saying so, not 'top it up'", async () => {
    const { url } = await startServer();
    const owed = await owedLater(url, `0:${"33".repeat(32)}`);
    const ask = await asker(url);
    expect((await ask("first")).answer?.choices[0]?.message.content).toBe("Echo: first");
    owed.oweElsewhere();
    const { err } = await ask("second");
    expect(err?.code).toBe("ESCROW_HELD_BACK");
    expect(err?.message).toContain("owed already to this provider on its other streams");
    expect(err?.message).not.toContain("top it up;");
    // The request, and the receipt for the first answer the SDK signs after it: both say why.
    expect(new Set(refusedWith(owed.events))).toEqual(new Set(["ESCROW_HELD_BACK"]));
  }, 30_000);

  it("with another provider on offer: the request goes there and is answered", async () => {
    const { url } = await startServer();
    // The cheaper one, asked first.
    const owed = await owedLater(url, `0:${"33".repeat(32)}`, 5n);
    const ask = await asker(url);
    expect((await ask("first")).answer?.choices[0]?.message.content).toBe("Echo: first");
    await wrtcProvider(url, { payout: `0:${"22".repeat(32)}` });
    owed.oweElsewhere();
    const { answer, err } = await ask("elsewhere");
    expect(err).toBeUndefined();
    expect(answer?.choices[0]?.message.content).toBe("Echo: elsewhere");
    expect(refusedWith(owed.events)).toEqual(["ESCROW_HELD_BACK"]);
  }, 30_000);

  it("to an older SDK (no `knows`): ESCROW_CANNOT_PAY, as before", async () => {
    const { url } = await startServer();
    const owed = await owedLater(url, `0:${"33".repeat(32)}`);
    const send = SecureSession.prototype.send;
    vi.spyOn(SecureSession.prototype, "send").mockImplementation(function (
      this: SecureSession,
      m: SessionMessageInput,
    ) {
      if (m.t !== "receipt") return send.call(this, m);
      const { knows: _, ...older } = m;
      return send.call(this, older);
    });
    const ask = await asker(url);
    expect((await ask("first")).answer?.choices[0]?.message.content).toBe("Echo: first");
    owed.oweElsewhere();
    const { err } = await ask("second");
    expect(err?.code).toBe("ESCROW_CANNOT_PAY");
    expect(new Set(refusedWith(owed.events))).toEqual(new Set(["ESCROW_CANNOT_PAY"]));
  }, 30_000);
});

describe("embeddings, as chat: refused mid-session by a provider holding the escrow back", () => {
  it("go to another provider and are answered", async () => {
    const { url } = await startServer();
    const backend = await startOpenAiBackend();
    const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    await engine.load("embed-model");
    const models = (price: bigint) => [
      { model: "embed-model", price: flatPrice(price), features: ["embeddings" as const] },
    ];
    const book = fundedBook();
    const payout = `0:${"33".repeat(32)}`;
    // The cheaper one, asked first.
    const held = await wrtcProvider(url, { book, payout, engine, models: models(5n) });
    const client = await wrtcClient(url);
    const embed = () => client.embeddings.create({ model: "embed-model", input: "the same words" });
    const first = await embed();
    const other = await wrtcProvider(url, { engine, payout: `0:${"22".repeat(32)}`, models: models(10n) });
    // Another of the requester's keys (epoch 1) is now owed all the escrow can pay there.
    const elsewhere = {
      network: NETWORK_ID.devnet,
      escrow: Address.parse(ESCROW),
      payout: Address.parse(payout),
      keyEpoch: 1,
    };
    book.track(elsewhere);
    book.held(elsewhere, book.view(Address.parse(ESCROW)).available);
    const again = await embed();
    expect(again.data[0]?.embedding).toEqual(first.data[0]?.embedding);
    expect(refusedWith(held.events)).toContain("ESCROW_HELD_BACK");
    expect(other.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    await backend.close();
  }, 30_000);
});
