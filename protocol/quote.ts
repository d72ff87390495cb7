import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, lengthPrefixed, toHex, utf8 } from "./encoding";
import { sign, verify } from "./identity";
import { canonicalJson } from "./registration";

/**
 * A provider's signed quote: its identity key vouches for its payout, its Registry entry (the
 * wallet owning it) and one model's price until `expiresAt`. The server carries it verbatim in the
 * grant, so a requester can tell the server's word (the grant) from the provider's (the quote), and
 * the handshake ties the key to the peer. Anyone can publish a Registry entry naming another's
 * identity key; the owner in the quote says which entry is the provider's own.
 */
export const QUOTE_LABEL = "silk/v1 provider-quote";

/** How long a quote holds: signed at every registration, so it outlives no provider by long. */
export const QUOTE_TTL_MS = 24 * 60 * 60 * 1000;

export interface QuoteTerms {
  readonly identityKey: string;
  readonly payout: string;
  readonly model: string;
  readonly price: {
    readonly nanoPerToken: bigint;
    readonly promptMultiplierBps: number;
    readonly completionMultiplierBps: number;
  };
  /** Unix ms after which the quote is void (not replayed forever). */
  readonly expiresAt: number;
  /** The wallet owning the provider's Registry entry; absent for a provider without one. */
  readonly owner?: string;
}

/** A quote as carried: `owner` repeats the terms' owner, so the requester knows which entry to read. */
export interface CarriedQuote {
  readonly expiresAt: number;
  readonly owner?: string;
  readonly signature: string;
}

/** A quote's own fields only (a parsed message may carry more): what a server stores and forwards. */
export function quoteFields(q: CarriedQuote): CarriedQuote {
  return { expiresAt: q.expiresAt, ...(q.owner && { owner: q.owner }), signature: q.signature };
}

export function quoteMessage(t: QuoteTerms): Uint8Array {
  return lengthPrefixed(
    utf8(QUOTE_LABEL),
    sha256(
      utf8(
        canonicalJson({
          identityKey: t.identityKey.toLowerCase(),
          payout: t.payout,
          model: t.model,
          price: {
            nanoPerToken: t.price.nanoPerToken,
            promptMultiplierBps: t.price.promptMultiplierBps,
            completionMultiplierBps: t.price.completionMultiplierBps,
          },
          expiresAt: t.expiresAt,
          // Left out when absent (JSON drops undefined), so a quote without an entry signs as before.
          owner: t.owner,
        }),
      ),
    ),
  );
}

export function signQuote(secretKey: Uint8Array, t: QuoteTerms): string {
  return toHex(sign(secretKey, quoteMessage(t)));
}

/** Why a grant's terms are not the provider's own signed word; undefined when they are. */
export function quoteFault(
  t: QuoteTerms,
  quote: { readonly signature: string } | undefined,
  now: number,
  /** The Ed25519 check to use (a server passes its native one). */
  check: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean = verify,
): string | undefined {
  if (!quote) return "carries no signed quote";
  if (t.expiresAt <= now) return `carries a quote that expired at ${new Date(t.expiresAt).toISOString()}`;
  let ok = false;
  try {
    ok = check(
      fromHex(t.identityKey, 32, "identity key"),
      quoteMessage(t),
      fromHex(quote.signature, 64, "signature"),
    );
  } catch {
    ok = false;
  }
  return ok
    ? undefined
    : "names terms (model, price, payout, Registry entry) the provider's key did not sign";
}
