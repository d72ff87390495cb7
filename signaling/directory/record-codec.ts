import {
  type CarriedQuote,
  type DeviceFacts,
  type Feature,
  quoteFields,
  type RegistryEntryClaim,
  scaledCosts,
} from "../../protocol";
import type { ModelListing, ProviderRecord, ProviderState } from "./directory";

/** Provider entries as flat string fields (Redis hashes); prices keep their exact bigint value. */

interface WireListing {
  model: string;
  nano: string;
  pBps: number;
  cBps: number;
  f?: Feature[];
  ctx?: number;
  /** Only in entries written before quotes had a field of their own (`quotes`); read, never written. */
  q?: CarriedQuote;
}

const COST_DIGITS = 20;
const MAX_COST = 10n ** BigInt(COST_DIGITS) - 1n;

/**
 * A cost (nanoTON per token scaled by BPS, at most 10^18 for a valid price) as fixed-width digits,
 * so the Lua scripts compare exact bigints as text. Larger values (only a requester's generous
 * maximum) are clamped: every valid price fits under the clamp.
 */
export function costKey(cost: bigint): string {
  return (cost > MAX_COST ? MAX_COST : cost).toString().padStart(COST_DIGITS, "0");
}

/** A listing's index key: completion cost then prompt cost (the matchmaking price order). */
function priceKey(p: ModelListing["price"]): string {
  const c = scaledCosts(p);
  return costKey(c.completion) + costKey(c.prompt);
}

export function recordToFields(r: ProviderRecord): Record<string, string> {
  const models: WireListing[] = r.models.map((m) => ({
    model: m.model,
    nano: m.price.nanoPerToken.toString(),
    pBps: m.price.promptMultiplierBps,
    cBps: m.price.completionMultiplierBps,
    ...(m.features?.length ? { f: [...m.features] } : {}),
    ...(m.contextWindow ? { ctx: m.contextWindow } : {}),
  }));
  // Each provider's quotes are its own signatures: kept out of `listings`, so providers offering
  // the same terms have the same `listings` text and the MARKET script sums them as one group.
  const quoted = r.models.filter((m) => m.quote);
  const keys = Object.fromEntries(r.models.map((m) => [`k:${m.model}`, priceKey(m.price)]));
  return {
    ...keys,
    identityKey: r.identityKey,
    socketId: r.socketId,
    payout: r.payout,
    listings: JSON.stringify(models),
    ...(quoted.length > 0 && {
      quotes: JSON.stringify(Object.fromEntries(quoted.map((m) => [m.model, quoteFields(m.quote!)]))),
    }),
    // Space-separated too, for the Lua scripts (model ids never contain spaces).
    models: r.models.map((m) => m.model).join(" "),
    capacity: String(r.capacity),
    device: JSON.stringify(r.device),
    registeredAt: String(r.registeredAt),
    ...(r.node ? { node: r.node } : {}),
    ...(r.entry && {
      entry: JSON.stringify({ ...r.entry, stake: r.entry.stake.toString() }),
    }),
  };
}

/**
 * The `listings` field as written by `recordToFields`, with each model's quote from the `quotes`
 * field when there is one (throws on anything else).
 */
export function listingsFromField(text: string, quotesText?: string): ModelListing[] {
  const listings = JSON.parse(text) as WireListing[];
  const quotes = quotesText ? (JSON.parse(quotesText) as Record<string, CarriedQuote>) : undefined;
  return listings.map((m) => {
    const quote = quotes && Object.hasOwn(quotes, m.model) ? quotes[m.model] : m.q;
    return {
      model: m.model,
      price: { nanoPerToken: BigInt(m.nano), promptMultiplierBps: m.pBps, completionMultiplierBps: m.cBps },
      ...(m.f ? { features: m.f } : {}),
      ...(m.ctx ? { contextWindow: m.ctx } : {}),
      ...(quote ? { quote } : {}),
    };
  });
}

/** Undefined for a hash that is missing or was not written by `recordToFields`. */
export function stateFromFields(f: Record<string, string>): ProviderState | undefined {
  if (!f.identityKey || !f.socketId || !f.listings || !f.capacity) return undefined;
  try {
    const models = listingsFromField(f.listings, f.quotes);
    return {
      identityKey: f.identityKey,
      socketId: f.socketId,
      payout: f.payout ?? "",
      models,
      capacity: Number(f.capacity),
      device: JSON.parse(f.device ?? "{}") as DeviceFacts,
      registeredAt: Number(f.registeredAt ?? 0),
      ...(f.node ? { node: f.node } : {}),
      ...(f.entry && { entry: entryFromField(f.entry) }),
      load: Number(f.load ?? 0),
      active: Number(f.active ?? 0),
      failures: Number(f.failures ?? 0),
      lastFailureAt: Number(f.lastFailureAt ?? 0),
      lastAssignedAt: Number(f.lastAssignedAt ?? 0),
      seenAt: Number(f.seenAt ?? 0),
    };
  } catch {
    return undefined;
  }
}

function entryFromField(text: string): RegistryEntryClaim {
  const e = JSON.parse(text) as { owner: string; stake: string; registeredAt: number };
  return { owner: e.owner, stake: BigInt(e.stake), registeredAt: e.registeredAt };
}

/** A Redis reply of alternating field names and values (HGETALL inside a script) as a record. */
export function pairsToFields(reply: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i < reply.length - 1; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
  return fields;
}
