import type { ModelPrice } from "../../protocol/pricing";
import { priceFits } from "../../protocol/pricing";
import type { PickRequest, ProviderState, SessionRecord } from "./directory";

/** One unit of a provider's capacity this node holds, with the listing it was leased for. */
export interface LeasedUnit {
  readonly provider: ProviderState;
  readonly price: ModelPrice;
}

interface ModelPool {
  /** In the order Redis leased them (the matchmaking order at the time). */
  units: LeasedUnit[];
  /** Units asked for and not yet answered. */
  pending: number;
  lastTakeAt: number;
  /** After a lease that found fewer than asked, no more asking until then. */
  quietUntil: number;
}

export interface LeaseSettings {
  /** Units per model the node tries to hold (0: no leasing). */
  readonly units: number;
  /** A model's units not taken for this long are given back. */
  readonly idleMs: number;
  /** After a lease came back short (nobody with two free units left), wait this long to ask again. */
  readonly backoffMs: number;
}

/**
 * The units of capacity a node holds leased, per model: pure bookkeeping, no I/O (the Redis
 * directory sends the scripts). A pairing takes the first unit whose price fits and whose
 * provider is not excluded; requests it cannot serve (nothing fits, pool empty) go to Redis as
 * before. Matchmaking order between nodes is therefore only as fresh as each node's pool.
 */
export class LeasePool {
  private readonly pools = new Map<string, ModelPool>();

  constructor(private readonly settings: LeaseSettings) {}

  /** Removes and returns a unit for the request, or undefined (the caller asks Redis). */
  take(request: PickRequest): LeasedUnit | undefined {
    const pool = this.pools.get(request.model);
    if (!pool) return undefined;
    pool.lastTakeAt = request.now;
    const i = pool.units.findIndex(
      (u) => !request.exclude.has(u.provider.identityKey) && priceFits(u.price, request.maxPrice),
    );
    if (i < 0) return undefined;
    return pool.units.splice(i, 1)[0];
  }

  /**
   * How many units to ask Redis for now for this model (and marks them pending), or 0. Starts a
   * pool for a model not seen before: leasing follows demand.
   */
  want(model: string, now: number): number {
    if (this.settings.units <= 0) return 0;
    let pool = this.pools.get(model);
    if (!pool) {
      pool = { units: [], pending: 0, lastTakeAt: now, quietUntil: 0 };
      this.pools.set(model, pool);
    }
    if (now < pool.quietUntil) return 0;
    const n = this.settings.units - pool.units.length - pool.pending;
    if (n <= 0) return 0;
    pool.pending += n;
    return n;
  }

  /** Units of the model idle in the pool. */
  size(model: string): number {
    return this.pools.get(model)?.units.length ?? 0;
  }

  /**
   * A unit an in-node session held, back in its pool: false when the pool is gone (idle) or
   * already holds `units` (the caller gives the unit back to Redis instead).
   */
  restore(model: string, unit: LeasedUnit): boolean {
    const pool = this.pools.get(model);
    if (!pool || pool.units.length >= this.settings.units) return false;
    pool.units.push(unit);
    return true;
  }

  /** Identity keys held for the model (the lease skips them: one unit per provider per node). */
  held(model: string): string[] {
    return (this.pools.get(model)?.units ?? []).map((u) => u.provider.identityKey);
  }

  /** The models the node holds units of. */
  models(): string[] {
    return [...this.pools].filter(([, pool]) => pool.units.length > 0).map(([model]) => model);
  }

  /** Redis answered `asked` with `units` (fewer when few providers have room); a failed ask brings none. */
  leased(model: string, asked: number, units: readonly LeasedUnit[], now: number): void {
    const pool = this.pools.get(model);
    if (!pool) return;
    pool.pending = Math.max(0, pool.pending - asked);
    pool.units.push(...units);
    if (units.length < asked) pool.quietUntil = now + this.settings.backoffMs;
  }

  /** Forgets a provider's units (it unregistered or failed): returns the models it was held for. */
  drop(identityKey: string): string[] {
    const models: string[] = [];
    for (const [model, pool] of this.pools) {
      const before = pool.units.length;
      pool.units = pool.units.filter((u) => u.provider.identityKey !== identityKey);
      if (pool.units.length < before) models.push(model);
    }
    return models;
  }

  /** Empties the pools no pairing took from for `idleMs`: the units to give back, per model. */
  idle(now: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [model, pool] of this.pools) {
      if (now - pool.lastTakeAt < this.settings.idleMs || pool.pending > 0) continue;
      out.set(
        model,
        pool.units.map((u) => u.provider.identityKey),
      );
      this.pools.delete(model);
    }
    return out;
  }

  /** Empties every pool (shutdown; or Redis lost the leases): the units to give back, per model. */
  clear(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [model, pool] of this.pools)
      out.set(
        model,
        pool.units.map((u) => u.provider.identityKey),
      );
    this.pools.clear();
    return out;
  }
}

/** A session granted from the pool whose two parties are on this node: it holds its unit here. */
interface InNode {
  readonly record: SessionRecord;
  readonly unit: LeasedUnit;
  /** The unit's lease is gone (given back, or the entry re-registered or left): drop it at the end. */
  stale: boolean;
}

/**
 * The sessions a node keeps out of Redis (pure bookkeeping): granted from its pool with both
 * parties' sockets on this node, so nobody else ever needs their record. Each keeps its leased
 * unit (still counted in the provider's `active` under the node's lease, renewed with the pool,
 * given back with the node's leases if it dies) until it ends.
 */
export class InNodeSessions {
  private readonly sessions = new Map<string, InNode>();

  open(record: SessionRecord, unit: LeasedUnit): void {
    this.sessions.set(record.sessionId, { record, unit, stale: false });
  }

  /** Ends the session: what it held, or undefined when it is not an in-node session (or ended already). */
  end(sessionId: string): InNode | undefined {
    const s = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    return s;
  }

  /** Marks the provider's units stale; returns the models of those whose lease was still live. */
  drop(identityKey: string): string[] {
    const models: string[] = [];
    for (const s of this.sessions.values())
      if (!s.stale && s.unit.provider.identityKey === identityKey) {
        s.stale = true;
        models.push(s.record.model);
      }
    return models;
  }

  /** The models whose live units sessions hold. */
  models(): string[] {
    return [...new Set([...this.sessions.values()].filter((s) => !s.stale).map((s) => s.record.model))];
  }

  /** Identity keys of the model whose live units sessions hold (renewed with the pool's). */
  held(model: string): string[] {
    const out: string[] = [];
    for (const s of this.sessions.values())
      if (!s.stale && s.record.model === model) out.push(s.unit.provider.identityKey);
    return out;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Every session ended at once (shutdown): the identity keys of live units, per model. */
  clear(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const s of this.sessions.values())
      if (!s.stale)
        out.set(s.record.model, [...(out.get(s.record.model) ?? []), s.unit.provider.identityKey]);
    this.sessions.clear();
    return out;
  }
}
