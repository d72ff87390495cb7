import { encodePublicKey, type ModelPrice, quoteFault, type SessionMessage } from "../../protocol";
import type { QuoteShown } from "./base-receipt";
import { ProviderError } from "./errors";

type Offer = Extract<SessionMessage, { t: "account" }>["prices"][number];

/** The models a session may be used for, at what price; and those refused, with why. */
export interface AccountPrices {
  readonly prices: ReadonlyMap<string, ModelPrice>;
  /** Models the provider bills on this session at a price it did not sign: why, per model. */
  readonly unquoted: ReadonlyMap<string, string>;
}

/**
 * The requester pays only what the provider signed. The session was granted for `granted.model`,
 * whose price the opener checks against the grant's quote; any other model its account prices is
 * used on this session only at a price the provider's own quote there signs: by the key the
 * handshake proved, to the grant's payout and Registry entry, for that model at that very price,
 * unexpired. Anything else (no quote, another price, another key's) and the model is not used
 * here: a request for it goes to another provider, or ends PRICE naming this one. Without a grant's
 * quote (a session opened by hand, no opener) every price stands as the account says.
 */
export function accountPrices(
  offers: readonly Offer[],
  granted: QuoteShown | undefined,
  providerKey: Uint8Array,
  now: number,
): AccountPrices {
  const prices = new Map<string, ModelPrice>();
  const unquoted = new Map<string, string>();
  for (const offer of offers) {
    if (!granted || offer.model === granted.model) {
      prices.set(offer.model, offer.price);
      continue;
    }
    const fault = quoteFault(
      {
        identityKey: encodePublicKey(providerKey),
        payout: granted.payout,
        model: offer.model,
        price: offer.price,
        expiresAt: offer.quote?.expiresAt ?? 0,
        owner: granted.owner,
      },
      offer.quote,
      now,
    );
    if (fault) unquoted.set(offer.model, fault);
    else prices.set(offer.model, offer.price);
  }
  return { prices, unquoted };
}

/** A model the provider bills on a session at a price it did not sign (`why`): refused, naming it. */
export function unquotedError(provider: Uint8Array, model: string, why: string): ProviderError {
  return new ProviderError(
    "PRICE",
    `the provider ${encodePublicKey(provider)} prices ${model} on its session with us at terms its key did not sign (its account ${why}); it is not used for ${model}`,
  );
}
