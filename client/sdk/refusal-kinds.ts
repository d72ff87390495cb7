import { NoProviderError, ProviderError } from "./errors";

/**
 * Which refusals say something about one provider, and which about everyone on offer: the opener,
 * the pool and the failover read them alike.
 */

/**
 * Account refusals about this provider, not the escrow: another provider may well serve. If none
 * does, the refusal is the answer (the gateway's 403 `foreign_claims`, …), not "no such model".
 */
export const ONE_PROVIDERS_REFUSALS: ReadonlySet<string> = new Set([
  "ESCROW_UNREACHABLE",
  // the provider's own shortest close delay (`--min-close-delay`, an hour by default on testnet
  // and mainnet): another provider may claim in less
  "ESCROW_CLOSE_DELAY",
  // the Escrow code of the provider's own build: the requester's escrow runs this build's, so a
  // provider on another Silk version refuses it and one on this version serves
  "ESCROW_CODE",
  "UNPAID_TOKENS",
  "FOREIGN_CLAIMS",
  "ESCROW_CROWDED",
  // the escrow could pay, but this provider holds it back (its other streams of the escrow are
  // owed as much, or it serves beyond a reserve for it only a credit window): another may serve
  "ESCROW_HELD_BACK",
]);

export function isOneProvidersRefusal(err: unknown): err is ProviderError {
  return err instanceof ProviderError && ONE_PROVIDERS_REFUSALS.has(err.code);
}

/**
 * A provider pricing a model at terms it did not sign (a bait above its grant's quote, or another
 * model on its session unquoted, account-quotes.ts): that provider alone is refused, as above.
 */
export function isPriceRefusal(err: unknown): err is ProviderError {
  return err instanceof ProviderError && err.code === "PRICE";
}

/** Signaling's answers that mean no provider besides those excluded can take a session now. */
const NO_OTHER_PROVIDER: ReadonlySet<string> = new Set(["ALL_BUSY", "NO_MODEL"]);

export function isNoOtherProvider(err: unknown): err is NoProviderError {
  return err instanceof NoProviderError && NO_OTHER_PROVIDER.has(err.code);
}
