import { PriceError } from "./errors";

/**
 * Money is bigint nanoTON, never a float. A provider prices each model at a base nanoTON per
 * token, with separate multipliers (in basis points, 10 000 = 1x) for prompt and completion
 * tokens, as Cocoon does. The requester states the highest effective price per token it accepts,
 * for each kind, before any pairing.
 */
export const BPS = 10_000n;
export const MAX_PRICE_NANO = 10n ** 12n; // 1 000 TON per token: anything above is a typo.
export const MAX_MULTIPLIER_BPS = 1_000_000; // 100x

export interface ModelPrice {
  /** Base price, nanoTON per token. */
  readonly nanoPerToken: bigint;
  readonly promptMultiplierBps: number;
  readonly completionMultiplierBps: number;
}

/** The most a requester will pay, effective nanoTON per token, for each kind of token. */
export interface MaxPrice {
  readonly promptNanoPerToken: bigint;
  readonly completionNanoPerToken: bigint;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export function checkPrice(price: ModelPrice): ModelPrice {
  if (price.nanoPerToken < 0n || price.nanoPerToken > MAX_PRICE_NANO) {
    throw new PriceError(`price must be between 0 and ${MAX_PRICE_NANO} nanoTON per token`);
  }
  for (const m of [price.promptMultiplierBps, price.completionMultiplierBps]) {
    if (!Number.isInteger(m) || m < 0 || m > MAX_MULTIPLIER_BPS) {
      throw new PriceError(`multipliers must be whole basis points between 0 and ${MAX_MULTIPLIER_BPS}`);
    }
  }
  return price;
}

/** A flat price: the same for prompt and completion tokens. */
export function flatPrice(nanoPerToken: bigint): ModelPrice {
  return checkPrice({ nanoPerToken, promptMultiplierBps: Number(BPS), completionMultiplierBps: Number(BPS) });
}

/**
 * One token of each kind at `price`, in nanoTON × BPS: exact, so comparing two prices, or a price
 * with a maximum, never rounds. The one owner of the per-token price; everything else reads it.
 */
export function scaledCosts(price: ModelPrice): { readonly prompt: bigint; readonly completion: bigint } {
  return {
    prompt: price.nanoPerToken * BigInt(price.promptMultiplierBps),
    completion: price.nanoPerToken * BigInt(price.completionMultiplierBps),
  };
}

/**
 * The effective nanoTON per token of each kind, rounded up: the lowest maximum `priceFits`
 * accepts for `price`, so a price shown to a person can be given back as their `maxPrice`.
 */
export function perTokenPrice(price: ModelPrice): MaxPrice {
  const c = scaledCosts(price);
  return { promptNanoPerToken: lowestMaxFor(c.prompt), completionNanoPerToken: lowestMaxFor(c.completion) };
}

/** A `scaledCosts` cost as whole nanoTON per token, rounded up: the lowest maximum that accepts it. */
export function lowestMaxFor(scaled: bigint): bigint {
  return (scaled + BPS - 1n) / BPS;
}

/** True when every kind of token is priced at or below what the requester accepts. */
export function priceFits(price: ModelPrice, max: MaxPrice): boolean {
  const c = scaledCosts(price);
  return c.prompt <= max.promptNanoPerToken * BPS && c.completion <= max.completionNanoPerToken * BPS;
}

/** True when `a` prices either kind of token above `b` (a quote above an offer). */
export function priceExceeds(a: ModelPrice, b: ModelPrice): boolean {
  const ca = scaledCosts(a);
  const cb = scaledCosts(b);
  return ca.prompt > cb.prompt || ca.completion > cb.completion;
}

/** Orders offers cheapest first by the completion price, then the prompt price. */
export function comparePrices(a: ModelPrice, b: ModelPrice): number {
  const ca = scaledCosts(a);
  const cb = scaledCosts(b);
  if (ca.completion !== cb.completion) return ca.completion < cb.completion ? -1 : 1;
  return ca.prompt === cb.prompt ? 0 : ca.prompt < cb.prompt ? -1 : 1;
}

/**
 * Cost of a usage in nanoTON, rounded down once over the whole usage (not per token), so both
 * sides compute the same number from the same counts.
 */
export function costOf(usage: TokenUsage, price: ModelPrice): bigint {
  const weighted =
    BigInt(usage.promptTokens) * BigInt(price.promptMultiplierBps) +
    BigInt(usage.completionTokens) * BigInt(price.completionMultiplierBps);
  return (weighted * price.nanoPerToken) / BPS;
}

export { formatTon } from "./ton-amount";

/** TON as decimal text ("5", "0.5", up to 9 decimals) to nanoTON, exact; undefined if it is not that. */
export function parseTon(text: string): bigint | undefined {
  if (!/^\d{1,9}(\.\d{1,9})?$/.test(text)) return undefined;
  const [whole, frac = ""] = text.split(".");
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
}
