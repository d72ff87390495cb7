import { describe, expect, it } from "vitest";
import { ProviderError } from "../../client/sdk/errors";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import {
  encodePublicKey,
  flatPrice,
  generateKeyPair,
  type KeyPair,
  type ModelPrice,
  offerToWire,
  priceToWire,
  QUOTE_TTL_MS,
  type SecureSession,
  type SessionMessage,
  type SignedQuote,
  signQuote,
} from "../../protocol";
import { pipedSession } from "../support/piped-session";
import { PAYOUT } from "../support/silk-parties";

/**
 * A session is granted for one model (model-a), its price checked against the provider's signed
 * quote in the grant. The pool reuses it for another model (model-b) at the price the provider's
 * account reply names, and that price was checked only against the requester's maximum: a provider
 * could quote model-b low to the server and bill it higher on the session. Now the account carries
 * the provider's signed quote for each model, and model-b is used on the session only at a price
 * that quote signs (its key, the grant's payout and entry, that model, that price, unexpired);
 * anything else is refused PRICE naming the provider, before a byte of the request is sent.
 */
const A = flatPrice(10n);
const QUOTED_B = flatPrice(20n);
const BILLED_B = flatPrice(50n); // within the requester's maximum (100): only a quote can refuse it

function quote(signer: KeyPair, model: string, price: ModelPrice, expiresAt: number): SignedQuote {
  const terms = { identityKey: encodePublicKey(signer.publicKey), payout: PAYOUT, model, price, expiresAt };
  return { expiresAt, signature: signQuote(signer.secretKey, terms) };
}

/** A provider that opens the account pricing model-b at `billed` with `bQuote`, and notes what it is asked. */
async function session(bQuote: (identity: KeyPair) => SignedQuote | undefined, billed = BILLED_B) {
  const identity = generateKeyPair();
  const expiresAt = Date.now() + QUOTE_TTL_MS;
  const granted = {
    model: "model-a",
    price: priceToWire(A),
    payout: PAYOUT,
    ...quote(identity, "model-a", A, expiresAt),
  };
  const asked: SessionMessage[] = [];
  const script = (provider: SecureSession) =>
    provider.onMessage((m) => {
      asked.push(m);
      if (m.t !== "receipt") return;
      const b = bQuote(identity);
      void provider.send({
        v: 1,
        t: "account",
        accepted: true,
        prices: [
          offerToWire({ model: "model-a", price: A }),
          offerToWire({ model: "model-b", price: billed }, b),
        ],
      });
    });
  const { requester } = await pipedSession(script, new MemoryPaymentAccount(), { quote: granted, identity });
  const requests = () => asked.filter((m) => m.t === "request");
  return { requester, identity, requests };
}

const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "hi" }] });

describe("another model on a session granted for one", () => {
  const refusals: [string, (identity: KeyPair) => SignedQuote | undefined, RegExp][] = [
    ["carries no quote for it", () => undefined, /its account carries no signed quote/],
    [
      "signed it at a lower price than it bills",
      (identity) => quote(identity, "model-b", QUOTED_B, Date.now() + QUOTE_TTL_MS),
      /terms its key did not sign/,
    ],
    [
      "shows another key's quote",
      () => quote(generateKeyPair(), "model-b", BILLED_B, Date.now() + QUOTE_TTL_MS),
      /terms its key did not sign/,
    ],
    [
      "shows its quote for another model at that price",
      (identity) => quote(identity, "model-c", BILLED_B, Date.now() + QUOTE_TTL_MS),
      /terms its key did not sign/,
    ],
    [
      "shows an expired quote",
      (identity) => quote(identity, "model-b", BILLED_B, Date.now() - 1),
      /expired at/,
    ],
  ];
  for (const [what, bQuote, why] of refusals) {
    it(`is refused PRICE naming the provider when the account ${what}; nothing is sent`, async () => {
      const { requester, identity, requests } = await session(bQuote);
      const err = await requester.request(ask("model-b"), () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).code).toBe("PRICE");
      expect((err as ProviderError).message).toContain(encodePublicKey(identity.publicKey));
      expect((err as ProviderError).message).toMatch(why);
      expect(requester.prices.has("model-b")).toBe(false);
      expect(requester.prices.get("model-a")).toEqual(A);
      await new Promise((r) => setTimeout(r, 20));
      expect(requests()).toEqual([]);
      requester.close();
    });
  }

  it("is used at the price the provider's own unexpired quote signs", async () => {
    const { requester, requests } = await session((identity) =>
      quote(identity, "model-b", BILLED_B, Date.now() + QUOTE_TTL_MS),
    );
    expect(requester.prices.get("model-b")).toEqual(BILLED_B);
    const answer = requester.request(ask("model-b"), () => undefined).catch((e: unknown) => e);
    await expect.poll(() => requests().map((m) => (m as { model: string }).model)).toEqual(["model-b"]);
    requester.close();
    await answer;
  });
});
