import { Address } from "@ton/core";
import {
  encodePublicKey,
  type ModelPrice,
  priceExceeds,
  quoteFault,
  type ServedModel,
  type ShownQuote,
} from "../../protocol";

/**
 * The price a session serves `m` at: the provider's own, or the lower one of a quote the requester
 * shows with its base receipt, when that quote is this provider's own word and still holds (its
 * key signed those terms, to this payout address, and it has not expired). A quote promises a
 * price until it expires; an operator who raised the price since signed a new one, but a server
 * may still grant with the old (a lying one on purpose), and the requester, seeing the session ask
 * more than the grant, could not tell that from a bait. Honouring its own word costs the provider
 * at most the difference until the old quote expires. Anything else shown (another key's, another
 * model's, expired, altered) changes nothing: the requester then sees the price it was not granted.
 */
export function honouredPrice(
  m: ServedModel,
  shown: ShownQuote | undefined,
  own: { readonly identityKey: Uint8Array; readonly payout: Address },
  now: number,
): ModelPrice {
  if (!shown || shown.model !== m.model || !priceExceeds(m.price, shown.price)) return m.price;
  let payout: Address;
  try {
    payout = Address.parse(shown.payout);
  } catch {
    return m.price;
  }
  if (!payout.equals(own.payout)) return m.price;
  const terms = {
    identityKey: encodePublicKey(own.identityKey),
    payout: shown.payout,
    model: m.model,
    price: shown.price,
    expiresAt: shown.expiresAt,
    owner: shown.owner,
  };
  return quoteFault(terms, shown, now) ? m.price : shown.price;
}
