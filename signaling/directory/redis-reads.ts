import type { MarketGroup, ProviderState, SessionRecord } from "./directory";
import { listingsFromField, pairsToFields, stateFromFields } from "./record-codec";
import type { RedisClient } from "./redis-commands";

/** The entries of a set's providers; members whose hash expired are pruned from the set. */
export async function loadProviders(
  redis: RedisClient,
  space: string,
  setKey: string,
): Promise<ProviderState[]> {
  const keys = await redis.sMembers(setKey);
  // Issued in one tick, so node-redis sends them as one pipeline.
  const hashes = await Promise.all(keys.map((key) => redis.hGetAll(`${space}p:${key}`)));
  const out: ProviderState[] = [];
  const gone: string[] = [];
  hashes.forEach((fields, i) => {
    const state = stateFromFields(fields);
    if (state) out.push(state);
    else gone.push(keys[i]!);
  });
  if (gone.length > 0) await redis.sRem(setKey, gone);
  return out;
}

/** The groups the MARKET script summed (listings, providers, capacity, in use). */
export function marketFromReply(reply: unknown): MarketGroup[] {
  const out: MarketGroup[] = [];
  for (const g of Array.isArray(reply) ? reply : []) {
    const [listings, providers, capacity, inUse] = Array.isArray(g) ? g : [];
    if (typeof listings !== "string") continue;
    try {
      const models = listingsFromField(listings);
      out.push({ models, providers: Number(providers), capacity: Number(capacity), inUse: Number(inUse) });
    } catch {
      // A listings field not written by recordToFields: not a provider entry.
    }
  }
  return out;
}

/** The session record the CLOSE script removed, or undefined if there was none (or it does not decode). */
export function sessionFromReply(sessionId: string, reply: unknown): SessionRecord | undefined {
  if (!Array.isArray(reply)) return undefined;
  const f = pairsToFields(reply);
  if (!f.identityKey || !f.providerSocketId || !f.requesterSocketId || !f.model) return undefined;
  return {
    sessionId,
    identityKey: f.identityKey,
    providerSocketId: f.providerSocketId,
    requesterSocketId: f.requesterSocketId,
    model: f.model,
    createdAt: Number(f.createdAt ?? 0),
    ...(f.requesterNode && { requesterNode: f.requesterNode }),
    ...(f.providerNode && { providerNode: f.providerNode }),
  };
}

/** What DROP_NODE removed in each space: providers counted once (a cluster has an entry per space). */
export function droppedFromReplies(replies: unknown[]): { providers: number; sessions: string[] } {
  const providers = new Set<string>();
  const sessions: string[] = [];
  for (const reply of replies) {
    const [ids, sids] = Array.isArray(reply) ? reply : [];
    for (const id of Array.isArray(ids) ? ids : []) providers.add(String(id));
    for (const sid of Array.isArray(sids) ? sids : []) sessions.push(String(sid));
  }
  return { providers: providers.size, sessions };
}
