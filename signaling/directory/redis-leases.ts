import type { PickRequest, SessionDraft, SessionRecord } from "./directory";
import { pairsToFields, stateFromFields } from "./record-codec";
import { InNodeSessions, type LeasedUnit, LeasePool, type LeaseSettings } from "./redis-lease";
import { CLAIM, LEASE, RELEASE, RENEW } from "./redis-lease-scripts";

/** What the leases need of the Redis directory: a script run in a model's space, counted under an op. */
export interface LeaseRedis {
  run(op: "pair" | "lease", script: string, model: string, keys: string[], args: string[]): Promise<unknown>;
  /** The space of a model: on one Redis all models share one; in a cluster one per hash tag. */
  spaceOf(model: string): string;
  /** How long a session record may outlive its session (a crashed node's leftovers). */
  readonly sessionTtlMs: number;
}

export interface NodeLeaseOptions extends LeaseSettings {
  /** This node's id: its leases go when it dies. */
  readonly node: string;
  /**
   * A lease not renewed for this long expires in Redis and any leasing node gives its units back,
   * so a lost release (or a node too stalled to renew) holds nobody's capacity for longer.
   * Renewed while the node holds the unit (every claim and top-up, and each tick).
   */
  readonly ttlMs: number;
}

export interface LeaseEvents {
  /** A pooled pairing whose record could not be written (its provider left or filled up meanwhile). */
  onClaimMissed?: (sessionId: string) => void;
  /**
   * A lease command failed: its units come back when the lease expires (`ttlMs`). `announce`: the
   * word that a heartbeat gave a provider's leases back did not go out; other nodes drop its units
   * at their next RENEW instead.
   */
  onLeaseError?: (what: "release" | "renew" | "announce", err: unknown, model: string | undefined) => void;
  /** Expired leases (another node's or this node's lost ones) given back by this node's sweep. */
  onExpired?: (count: number) => void;
}

/**
 * The I/O of a node's capacity leases (redis-lease.ts holds the pure bookkeeping): pooled grants
 * recorded by `CLAIM`, top-ups by `LEASE`, give-backs by `RELEASE`, and on each tick `RENEW`,
 * which pushes back the expiry of every unit the pool and its in-node sessions hold, says which of
 * them lost their lease, and gives back any lease in the space whose expiry passed.
 *
 * A pooled grant whose provider's socket is on this node too (the requester's always is) is an
 * in-node session: it keeps its leased unit and no record in Redis, since only this node ever
 * ends it, and the unit goes back to the pool when it ends. Such a pairing and its end send Redis
 * nothing; the pool is topped up (one `LEASE` for several pairings) once half of it is in use.
 */
export class NodeLeases {
  private readonly pool: LeasePool;
  private readonly inNode = new InNodeSessions();
  private readonly timer: NodeJS.Timeout;
  /** Lease commands in flight, awaited by `close` before it gives every unit back. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Models (one per space) this node has leased in: their spaces are renewed and swept each tick. */
  private readonly spaces = new Map<string, string>();
  private ticking = false;
  private closed = false;

  constructor(
    private readonly redis: LeaseRedis,
    private readonly options: NodeLeaseOptions,
    private readonly events: LeaseEvents = {},
  ) {
    this.pool = new LeasePool(options);
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(options.idleMs, options.ttlMs / 4)));
    this.timer.unref();
  }

  /** A unit for the request from this node's pool (its record follows in one command), or undefined. */
  take(request: PickRequest, sessionId: string, draft: SessionDraft): LeasedUnit | undefined {
    const unit = this.pool.take(request);
    if (!unit) return undefined;
    const { node, units } = this.options;
    const provider = unit.provider;
    if (draft.requesterNode === node && provider.node === node) {
      this.inNode.open(
        {
          sessionId,
          identityKey: provider.identityKey,
          providerSocketId: provider.socketId,
          requesterSocketId: draft.requesterSocketId,
          model: request.model,
          createdAt: request.now,
          requesterNode: node,
          providerNode: node,
        },
        unit,
      );
      if (this.pool.size(request.model) <= units / 2) this.topUp(request.model, request.now);
      return unit;
    }
    // Sent after this turn, so the grant is written first; still ahead of anything the session's
    // parties can send next (its end): commands go out in the order they are queued.
    this.track(
      new Promise((resolve) => setImmediate(() => resolve(this.claim(unit, sessionId, request, draft)))),
    );
    return unit;
  }

  /** Asks for more units of a model when the pool is short (not awaited by the pairing). */
  topUp(model: string, now: number): void {
    if (this.closed) return;
    const want = this.pool.want(model, now);
    if (want <= 0) return;
    const { node, ttlMs } = this.options;
    this.spaces.set(this.redis.spaceOf(model), model);
    this.track(
      this.redis
        .run(
          "lease",
          LEASE,
          model,
          ["fx"],
          [model, String(now), node, String(want), String(ttlMs), ...this.pool.held(model)],
        )
        .then(
          (reply) => this.pool.leased(model, want, this.units(model, reply), Date.now()),
          () => this.pool.leased(model, want, [], Date.now()),
        ),
    );
  }

  /**
   * Ends an in-node session: its unit goes back to the pool (or to Redis, when the pool is full
   * or idle). Undefined when the session is not one (its record is in Redis).
   */
  end(sessionId: string): SessionRecord | undefined {
    const ended = this.inNode.end(sessionId);
    if (!ended) return undefined;
    const { record, unit } = ended;
    if (!ended.stale && (this.closed || !this.pool.restore(record.model, unit)))
      this.track(this.release(record.model, [unit.provider.identityKey]));
    return record;
  }

  /** Sessions this node holds out of Redis. */
  get inNodeSessions(): number {
    return this.inNode.size;
  }

  /** Forgets a provider's units (it unregistered or registered again: its entry holds no lease). */
  forget(identityKey: string): void {
    this.pool.drop(identityKey);
    this.inNode.drop(identityKey);
  }

  /** Gives back this node's units of a provider that failed an offer (it goes last in the order). */
  async giveBack(identityKey: string): Promise<void> {
    const models = new Set([...this.pool.drop(identityKey), ...this.inNode.drop(identityKey)]);
    await Promise.all([...models].map((model) => this.release(model, [identityKey])));
  }

  /** The providers whose units of `model` the pool holds (one key per unit). */
  pooled(model: string): readonly string[] {
    return this.pool.held(model);
  }

  /** Resolves once the lease commands in flight (records of pooled pairings, top-ups) have settled. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** Gives every unit back (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.settled();
    const models = new Set([...this.pool.clear().keys(), ...this.inNode.clear().keys()]);
    await Promise.all([...models].map((model) => this.release(model, [])));
  }

  private async claim(unit: LeasedUnit, sessionId: string, request: PickRequest, draft: SessionDraft) {
    const { model, now } = request;
    const { node, ttlMs } = this.options;
    const want = this.closed ? 0 : this.pool.want(model, now);
    const id = unit.provider.identityKey;
    try {
      const reply = await this.redis.run(
        "pair",
        CLAIM,
        model,
        [`p:${id}`],
        [
          node,
          unit.provider.socketId,
          id,
          sessionId,
          model,
          draft.requesterSocketId,
          draft.requesterNode ?? "",
          String(now),
          String(this.redis.sessionTtlMs),
          String(want),
          String(ttlMs),
          ...this.pool.held(model),
        ],
      );
      const [ok, leased] = Array.isArray(reply) ? reply : [];
      this.pool.leased(model, want, this.units(model, leased), Date.now());
      if (ok !== 1) this.events.onClaimMissed?.(sessionId);
    } catch {
      // Redis away: the session has no record (its end finds none); the pool asks again later.
      this.pool.leased(model, want, [], Date.now());
      this.events.onClaimMissed?.(sessionId);
    }
  }

  /** Idle pools given back; every space leased in renewed (what the pool holds) and swept (what expired). */
  private tick(): void {
    if (this.ticking || this.closed) return;
    const now = Date.now();
    const work: Promise<unknown>[] = [];
    for (const [model, ids] of this.pool.idle(now)) if (ids.length > 0) work.push(this.release(model, ids));
    const held = new Map<string, string[]>();
    for (const model of new Set([...this.pool.models(), ...this.inNode.models()])) {
      const space = this.redis.spaceOf(model);
      held.set(space, [...(held.get(space) ?? []), ...this.pool.held(model), ...this.inNode.held(model)]);
    }
    const { node, ttlMs } = this.options;
    for (const [space, model] of this.spaces) {
      const ids = [...new Set(held.get(space) ?? [])];
      work.push(
        this.redis.run("lease", RENEW, model, ["lx"], [node, String(now), String(ttlMs), ...ids]).then(
          (reply) => {
            const [swept, gone] = Array.isArray(reply) ? reply : [];
            // Units whose lease Redis no longer has (it restarted empty, or swept them): not used again.
            if (Array.isArray(gone)) for (const id of gone) if (typeof id === "string") this.forget(id);
            if (typeof swept === "number" && swept > 0) this.events.onExpired?.(swept);
          },
          (err: unknown) => this.events.onLeaseError?.("renew", err, model),
        ),
      );
    }
    this.ticking = true;
    this.track(Promise.all(work).finally(() => (this.ticking = false)));
  }

  /** Gives back units (none named: all this node holds in the model's space). A failure is reported, not thrown. */
  private async release(model: string, ids: string[]): Promise<void> {
    try {
      await this.redis.run(
        "lease",
        RELEASE,
        model,
        [`n:${this.options.node}:l`],
        [this.options.node, ...ids],
      );
    } catch (err) {
      this.events.onLeaseError?.("release", err, model);
    }
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private units(model: string, reply: unknown): LeasedUnit[] {
    const out: LeasedUnit[] = [];
    for (const hash of Array.isArray(reply) ? reply : []) {
      const provider = stateFromFields(pairsToFields(hash));
      const listing = provider?.models.find((m) => m.model === model);
      if (provider && listing) out.push({ provider, price: listing.price });
    }
    return out;
  }
}
