import { describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { ProviderError, StreamFullError, UnreadableMessageError } from "../../client/sdk/errors";
import {
  ACCOUNT_REFUSAL_CODES,
  ENGINE_FAILURES,
  type ErrorCode,
  flatPrice,
  offerToWire,
  PROTOCOL_ERROR_CODES,
  PROVIDER_INTERNAL,
  type ProviderErrorCode,
  providerSentence,
  REQUEST_ERROR_CODES,
  SESSION_ERROR_CODES,
  type SecureSession,
  type SessionMessage,
  STREAM_FULL_MESSAGE,
} from "../../protocol";
import { pipedSession } from "../support/piped-session";

/**
 * Issue 12: every error the gateway can get has a status. A hostile provider that answers with a
 * code nobody defined (and a message meant to mislead) is a 502 `unknown_code` in our words.
 */
async function hostileProvider(error: { code: string; message: string; param?: string }) {
  return scriptedProvider((provider, m) => {
    if (m.t === "request") void provider.send({ v: 1, t: "error", id: m.id, error });
  });
}

/** A piped session whose provider opens the account, then answers each other message with `answer`. */
async function scriptedProvider(answer: (provider: SecureSession, m: SessionMessage) => void) {
  const { requester } = await pipedSession((provider) =>
    provider.onMessage((m) => {
      if (m.t === "receipt")
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price: flatPrice(1n) })],
        });
      else answer(provider, m);
    }),
  );
  return requester;
}

const input = { model: "test-model", messages: [{ role: "user" as const, content: "hi" }] };

describe("a code nobody defined", () => {
  it.each([
    ["a code-like word is named", "KEY_REVOKED", "(KEY_REVOKED)"],
    ["anything else is not repeated", "<b>click</b>", "does not know"],
  ])(
    "from a provider: UNKNOWN_CODE, 502 unknown_code, the peer's text dropped (%s)",
    async (_, code, says) => {
      const session = await hostileProvider({
        code,
        message: "your key was revoked: log in at evil.example",
      });
      const err = await session.request(input, () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).code).toBe("UNKNOWN_CODE");
      const http = toHttpError(err);
      expect(http.status).toBe(502);
      expect(http.body().error.code).toBe("unknown_code");
      expect(http.message).toContain(says);
      expect(http.message).not.toContain("evil.example");
      expect(http.message).not.toContain("<b>");
      session.close();
    },
  );

  it("an error built with a code outside the list at run time is still 502 unknown_code, not a crash", () => {
    const forged = new ProviderError("NOT_A_CODE" as ErrorCode, "whatever");
    const http = toHttpError(forged);
    expect(http.status).toBe(502);
    expect(http.body().error.code).toBe("unknown_code");
  });

  it("anything else the gateway did not expect is 500 internal_error", () => {
    expect(toHttpError(new TypeError("x is undefined")).status).toBe(500);
    expect(toHttpError("a string").body().error.code).toBe("internal_error");
  });
});

describe("a provider's own failure (ENGINE, INTERNAL) in words of its own", () => {
  it.each([
    ["ENGINE", 502, "engine_failed", ENGINE_FAILURES.backend],
    ["INTERNAL", 502, "internal", PROVIDER_INTERNAL],
  ])("%s: the SDK's words, not the provider's (%i %s)", async (code, status, name, says) => {
    const session = await hostileProvider({ code, message: "your key was revoked: log in at evil.example" });
    const err = await session.request(input, () => undefined).catch((e: unknown) => e);
    session.close();
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe(code);
    expect((err as Error).message).toBe(says);
    const http = toHttpError(err);
    expect(http.status).toBe(status);
    expect(http.body().error).toMatchObject({ code: name, message: says });
  });
});

const LURE = "your key was revoked: log in at evil.example";
const PROVIDER_CODES: ProviderErrorCode[] = [
  ...new Set([
    ...PROTOCOL_ERROR_CODES,
    ...ACCOUNT_REFUSAL_CODES,
    ...REQUEST_ERROR_CODES,
    ...SESSION_ERROR_CODES,
  ]),
];

/** A request with more fields for a provider to name: tools, a temperature. */
const rich = {
  ...input,
  temperature: 0.5,
  tools: [{ type: "function" as const, function: { name: "f", parameters: { type: "object" } } }],
};

/** What a hostile provider's error becomes in the SDK and in the gateway's body. */
async function told(error: { code: string; message: string; param?: string }, request = rich) {
  const session = await hostileProvider(error);
  const err = await session.request(request, () => undefined).catch((e: unknown) => e);
  session.close();
  expect(err).toBeInstanceOf(ProviderError);
  return { err: err as ProviderError, body: toHttpError(err).body().error };
}

describe("every code a provider can send, in our words", () => {
  it.each(PROVIDER_CODES)("%s: its fixed sentence, never the provider's text or param", async (code) => {
    const { err, body } = await told({ code, message: LURE, param: "evil.example" });
    expect(err.code).toBe(code);
    // ESCROW_CANNOT_PAY to a session without reserves adds what would have raised one (ours too)
    expect(err.message.startsWith(providerSentence(code))).toBe(true);
    // a param is kept only as a path into the request it answers, UNKNOWN_FIELD's too
    expect(err.param).toBeUndefined();
    expect(body.message).toBe(err.message);
    expect(body.message).not.toContain("evil");
  });

  it.each([
    [
      "UNSUPPORTED",
      "tools: test-model here does not support tools",
      "the provider does not support tools",
      "tools",
    ],
    [
      "UNSUPPORTED",
      "model: test-model here does not make embeddings",
      "the provider does not support embeddings",
      "model",
    ],
    [
      "UNSUPPORTED",
      "messages.0.content: log in at evil.example does not support vision",
      "the provider does not support vision",
      "messages.0.content",
    ],
    [
      "UNSUPPORTED",
      "tools: here does not support log_in_at_evil_example",
      `${providerSentence("UNSUPPORTED")} (tools)`,
      "tools",
    ],
    [
      "UNSUPPORTED",
      "temperature: not here (log in at evil.example)",
      `${providerSentence("UNSUPPORTED")} (temperature)`,
      "temperature",
    ],
    // a field of the requests this version sends, but not of this one
    ["UNSUPPORTED", "top_p: not here", providerSentence("UNSUPPORTED"), undefined],
    ["UNSUPPORTED", "log_in_at: evil.example", providerSentence("UNSUPPORTED"), undefined],
    [
      "KEY_EPOCH",
      "receipts must carry the key's epoch 7",
      "receipts must carry the key's epoch 7",
      undefined,
    ],
    ["KEY_EPOCH", `receipts must carry the key's epoch 7; ${LURE}`, providerSentence("KEY_EPOCH"), undefined],
    [
      "UNPAID_TOKENS",
      "an earlier session streamed 12 tokens past your last receipt",
      "an earlier session streamed 12 tokens past your last receipt on this stream: open with a receipt that covers them, or come back later",
      undefined,
    ],
  ])("%s: only the fields we parse and check (%s)", async (code, message, says, param) => {
    const { err, body } = await told({ code, message });
    expect(err.message).toBe(says);
    expect(err.param).toBe(param);
    expect(body.message).toBe(says);
  });

  it.each([
    ["messages.0.content", "messages.0.content"],
    ["tools.0.function.name", "tools.0.function.name"],
    // snake_case paths, but to nothing this request carries
    ["temperature_2", undefined],
    ["messages.3.content", undefined],
    ["log_in_at_evil_example", undefined],
  ])("UNKNOWN_FIELD naming %s: kept only if the request we sent has it", async (param, kept) => {
    const { err, body } = await told({ code: "UNKNOWN_FIELD", message: LURE, param });
    expect(err.message).toBe(`${providerSentence("UNKNOWN_FIELD")}${kept ? ` (${kept})` : ""}`);
    expect(err.param).toBe(kept);
    expect(body.param).toBe(kept ?? null);
  });

  it.each(["ALL_BUSY", "GRANT_TAMPERED", "STALLED"])(
    "%s, a code no provider sends: UNKNOWN_CODE, 502, the code named in our words",
    async (code) => {
      const { err, body } = await told({ code, message: LURE });
      expect(err.code).toBe("UNKNOWN_CODE");
      expect(body).toMatchObject({
        code: "unknown_code",
        message: `the provider sent an error code no provider sends (${code})`,
      });
    },
  );
});

/**
 * ESCROW_CANNOT_PAY has three causes a requester fixes differently: the stream's receipts reached
 * what one can count (a new session key), the reserve for this provider is used up (raise it), the
 * escrow's balance (top it up). Each is our own sentence, picked by the provider's; the stream's
 * was told as the balance's, "top it up", which cannot help.
 */
describe("ESCROW_CANNOT_PAY says which limit", () => {
  const RESERVE =
    "the escrow's reserve for this provider is used up (beyond it only one credit window is served): raise the reserve, or top the escrow up";
  it.each([
    ["a stream a receipt cannot carry more on", STREAM_FULL_MESSAGE, STREAM_FULL_MESSAGE, true],
    ["the same, with a lure after it", `${STREAM_FULL_MESSAGE}; ${LURE}`, STREAM_FULL_MESSAGE, true],
    ["a reserve used up", RESERVE, RESERVE, false],
    [
      "the balance",
      "the escrow cannot pay for more tokens; top it up",
      providerSentence("ESCROW_CANNOT_PAY"),
      false,
    ],
    ["anything else", LURE, providerSentence("ESCROW_CANNOT_PAY"), false],
  ])("%s: our sentence for it, 402 escrow_cannot_pay", async (_, message, says, exact) => {
    const { err, body } = await told({ code: "ESCROW_CANNOT_PAY", message });
    // a session raising no reserve hears what would raise one, unless no reserve could help
    if (exact) expect([err.message, err instanceof StreamFullError]).toEqual([says, true]);
    else expect(err.message.startsWith(`${says}. This session raises no reserve`)).toBe(true);
    expect(toHttpError(err).status).toBe(402);
    expect(body).toMatchObject({ code: "escrow_cannot_pay", message: err.message });
    expect(body.message).not.toContain("evil");
  });
});

/**
 * A provider ending the session in words of its own (an `error` without an id, as its SessionServer
 * sends a session's ending before it closes): every request in flight fails with our sentence for
 * the code, and the session is over. A guard: so since 47d7594.
 */
describe("a provider's ending of the session", () => {
  it.each(SESSION_ERROR_CODES)(
    "%s with the provider's own text: our sentence, the session closed",
    async (code) => {
      const requester = await scriptedProvider((provider, m) => {
        if (m.t === "request") void provider.send({ v: 1, t: "error", error: { code, message: LURE } });
      });
      const both = [input, input].map((i) => requester.request(i, () => undefined).catch((e: unknown) => e));
      for (const err of (await Promise.all(both)) as ProviderError[]) {
        expect(err).toBeInstanceOf(ProviderError);
        expect(err.code).toBe(code);
        expect(err.message).toBe(providerSentence(code));
      }
      expect(requester.isOpen).toBe(false);
    },
  );
});

/**
 * A provider's message this version cannot read (its schema broken: an error's code too long or
 * not a string) ends what waited on it at once, in our words: it used to be answered to the
 * provider and dropped here, so the request waited out its frame deadline and ended STALLED.
 */
describe("a message the schema refuses", () => {
  async function unreadable(error: unknown, withId: boolean) {
    const requester = await scriptedProvider((provider, m) => {
      if (m.t === "request")
        void provider.send({ v: 1, t: "error", ...(withId && { id: m.id }), error } as never);
    });
    const err = await requester.request(input, () => undefined).catch((e: unknown) => e);
    return { err: err as ProviderError, requester };
  }

  it("an error for the request with a code past 40 characters: that request fails now, UNEXPECTED, 502", async () => {
    const { err, requester } = await unreadable({ code: `${"X".repeat(60)}`, message: LURE }, true);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect(err.code).toBe("UNEXPECTED");
    expect(err.message).toBe(
      "the provider sent a message this version cannot read (type error, invalid at error.code)",
    );
    const http = toHttpError(err);
    expect(http.status).toBe(502);
    expect(http.message).not.toContain("evil");
    // only that request: the session goes on
    expect(requester.isOpen).toBe(true);
    requester.close();
  });

  it("an error about the session (no id) whose code is no string: every request fails now, the session ends", async () => {
    const { err, requester } = await unreadable({ code: 5, message: LURE }, false);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect(err.code).toBe("UNEXPECTED");
    expect(err.message).not.toContain("evil");
    expect(requester.isOpen).toBe(false);
  });

  it("an embedding whose index is no number: that embeddings call fails now, UNEXPECTED", async () => {
    const requester = await scriptedProvider((provider, m) => {
      if (m.t === "embed")
        void provider.send({ v: 1, t: "embedding", id: m.id, index: LURE, vector: "AAAAAA==" } as never);
    });
    const err = await requester.embed({ model: "test-model", input: ["hi"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect((err as Error).message).toBe(
      "the provider sent a message this version cannot read (type embedding, invalid at index)",
    );
    requester.close();
  });

  it("an error for an embeddings call with a code past 40 characters: that call fails now, the session goes on", async () => {
    const requester = await scriptedProvider((provider, m) => {
      if (m.t === "embed")
        void provider.send({
          v: 1,
          t: "error",
          id: m.id,
          error: { code: "X".repeat(60), message: LURE },
        } as never);
    });
    const err = await requester.embed({ model: "test-model", input: ["hi"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect((err as Error).message).toBe(
      "the provider sent a message this version cannot read (type error, invalid at error.code)",
    );
    expect(requester.isOpen).toBe(true);
    requester.close();
  });

  it("a message of another version under a made-up type: the session ends now, the type not repeated", async () => {
    const requester = await scriptedProvider((provider, m) => {
      if (m.t === "request") void provider.send({ v: 9, t: "log-in-at-evil-example", id: m.id } as never);
    });
    const err = await requester.request(input, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect((err as Error).message).toBe("the provider sent a message this version cannot read");
    expect(requester.isOpen).toBe(false);
  });

  it("an account message that breaks the schema fails the open now, not at the account deadline", async () => {
    const err = await pipedSession((provider) =>
      provider.onMessage((m) => {
        if (m.t === "receipt")
          void provider.send({ v: 1, t: "account", accepted: "yes", prices: LURE } as never);
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreadableMessageError);
    expect((err as Error).message).toBe(
      "the provider sent a message this version cannot read (type account, invalid at accepted)",
    );
  });
});
