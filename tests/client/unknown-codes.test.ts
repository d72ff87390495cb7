import { describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { ProviderError } from "../../client/sdk/errors";
import { ENGINE_FAILURES, type ErrorCode, flatPrice, offerToWire, PROVIDER_INTERNAL } from "../../protocol";
import { pipedSession } from "../support/piped-session";

/**
 * Issue 12: every error the gateway can get has a status. A hostile provider that answers with a
 * code nobody defined (and a message meant to mislead) is a 502 `unknown_code` in our words.
 */
async function hostileProvider(error: { code: string; message: string }) {
  const { requester } = await pipedSession((provider) =>
    provider.onMessage((m) => {
      if (m.t === "receipt")
        void provider.send({
          v: 1,
          t: "account",
          accepted: true,
          prices: [offerToWire({ model: "test-model", price: flatPrice(1n) })],
        });
      if (m.t === "request") void provider.send({ v: 1, t: "error", id: m.id, error });
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
