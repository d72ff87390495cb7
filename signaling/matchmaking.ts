import type { MaxPrice, ModelPrice } from "../protocol";
import { BPS, lowestMaxFor, scaledCosts } from "../protocol";
import type { Candidate, ProviderState } from "./directory/directory";
import { usedCapacity } from "./directory/directory";

export type { Candidate } from "./directory/directory";

/**
 * Pure matchmaking policy: which providers may take a request, and in what order to offer it.
 * No I/O here. Pairing does not rank on every request: each directory keeps an index in this
 * order (`reserveBest`); `rankProviders` is the reference the index is tested against, and the
 * explanation when nobody fits.
 *
 * Order: providers without a recent failure before those with one (fewest failures first); then
 * cheapest (completion price, then prompt price); then least loaded relative to capacity; then the
 * one assigned longest ago, so equals take turns and nobody starves.
 */

export interface PairingRequest {
  readonly model: string;
  readonly maxPrice: MaxPrice;
  /** Identity keys the requester asked to avoid. */
  readonly exclude: ReadonlySet<string>;
}

export interface PolicyOptions {
  readonly now: number;
  /** A failure older than this no longer counts against a provider. */
  readonly failureWindowMs: number;
  /** How many candidates to return, best first (enough for the failover attempts). */
  readonly limit: number;
}

export type NoMatchCode = "NO_MODEL" | "PRICE_TOO_LOW" | "ALL_BUSY";

export type Ranking =
  | { readonly ok: true; readonly candidates: readonly Candidate[] }
  | { readonly ok: false; readonly code: NoMatchCode; readonly message: string };

interface Scored extends Candidate {
  readonly penalty: number;
  readonly completion: bigint;
  readonly prompt: bigint;
  readonly utilisation: number;
}

export function rankProviders(
  providers: Iterable<ProviderState>,
  request: PairingRequest,
  options: PolicyOptions,
): Ranking {
  let serving = 0;
  let priced = 0;
  let cheapest: ModelPrice | undefined;
  const best: Scored[] = [];
  // priceFits, with the requester's side scaled once rather than per provider.
  const maxCompletion = request.maxPrice.completionNanoPerToken * BPS;
  const maxPrompt = request.maxPrice.promptNanoPerToken * BPS;

  for (const provider of providers) {
    if (request.exclude.has(provider.identityKey)) continue;
    const listing = provider.models.find((m) => m.model === request.model);
    if (!listing) continue;
    serving++;
    const cost = costs(listing.price);
    if (cost.completion > maxCompletion || cost.prompt > maxPrompt) {
      if (!cheapest || cost.completion < costs(cheapest).completion) cheapest = listing.price;
      continue;
    }
    priced++;
    const used = usedCapacity(provider);
    if (used >= provider.capacity) continue;
    const recent =
      provider.lastFailureAt > 0 && options.now - provider.lastFailureAt < options.failureWindowMs;
    insertTopK(best, options.limit, {
      provider,
      price: listing.price,
      penalty: recent ? provider.failures : 0,
      completion: cost.completion,
      prompt: cost.prompt,
      utilisation: used / provider.capacity,
    });
  }

  if (best.length > 0)
    return { ok: true, candidates: best.map(({ provider, price }) => ({ provider, price })) };
  if (serving === 0) return refusal("NO_MODEL", request);
  if (priced === 0) return refusal("PRICE_TOO_LOW", request, cheapest && costs(cheapest).completion);
  return refusal("ALL_BUSY", request);
}

/**
 * Why nobody fits, in words; `cheapestCompletion` (the cheapest completion cost of the model's
 * providers, scaled by BPS) names the floor of a PRICE_TOO_LOW. The indexes answer with this too.
 */
export function refusal(
  code: NoMatchCode,
  request: Pick<PairingRequest, "model" | "exclude">,
  cheapestCompletion?: bigint,
): { readonly ok: false; readonly code: NoMatchCode; readonly message: string } {
  const { model } = request;
  if (code === "NO_MODEL") {
    const message =
      request.exclude.size > 0
        ? `no provider other than the excluded ones serves ${model}`
        : `no provider serves ${model}`;
    return { ok: false, code, message };
  }
  if (code === "PRICE_TOO_LOW") {
    const floor =
      cheapestCompletion === undefined
        ? ""
        : `; the cheapest asks ${lowestMaxFor(cheapestCompletion)} nanoTON per completion token`;
    return { ok: false, code, message: `no provider of ${model} accepts that price${floor}` };
  }
  return { ok: false, code, message: `every provider of ${model} at that price is busy; retry shortly` };
}

/** Negative when `a` should be offered before `b`. */
function compareScored(a: Scored, b: Scored): number {
  if (a.penalty !== b.penalty) return a.penalty - b.penalty;
  if (a.completion !== b.completion) return a.completion < b.completion ? -1 : 1;
  if (a.prompt !== b.prompt) return a.prompt < b.prompt ? -1 : 1;
  if (a.utilisation !== b.utilisation) return a.utilisation - b.utilisation;
  return a.provider.lastAssignedAt - b.provider.lastAssignedAt;
}

/** Keeps `list` sorted and at most `k` long: O(n·k) over n providers, no full sort per request. */
function insertTopK(list: Scored[], k: number, item: Scored): void {
  if (list.length === k && compareScored(item, list[k - 1]!) >= 0) return;
  let i = list.length;
  while (i > 0 && compareScored(item, list[i - 1]!) < 0) i--;
  list.splice(i, 0, item);
  if (list.length > k) list.pop();
}

/** Effective prices scaled by BPS, computed once per listing (listings never change once registered). */
const costCache = new WeakMap<ModelPrice, { completion: bigint; prompt: bigint }>();

function costs(p: ModelPrice): { completion: bigint; prompt: bigint } {
  let c = costCache.get(p);
  if (!c) {
    c = scaledCosts(p);
    costCache.set(p, c);
  }
  return c;
}
