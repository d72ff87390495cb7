import { BPS } from "../../protocol";
import { type NoMatchCode, refusal } from "../matchmaking";
import type {
  MarketGroup,
  Paired,
  PickRequest,
  ProviderDirectory,
  ProviderRecord,
  ProviderState,
  Refused,
  SessionDraft,
  SessionRecord,
} from "./directory";
import { type LateEndEvents, type LateEndOptions, LateEnds, owesEnd } from "./late-ends";
import { costKey, pairsToFields, recordToFields, stateFromFields } from "./record-codec";
import {
  CountedClients,
  type DirectoryOp,
  type RedisClient,
  runScript,
  type Subscribe,
} from "./redis-commands";
import { type LeaseEvents, type NodeLeaseOptions, NodeLeases } from "./redis-leases";
import { MARKET } from "./redis-market-sums";
import { droppedFromReplies, loadProviders, marketFromReply, sessionFromReply } from "./redis-reads";
import { CLOSE, DROP_NODE, FAILURE, FORGET, HEARTBEAT, PAIR, REGISTER, UNREGISTER } from "./redis-scripts";
import { KeySpaces } from "./redis-spaces";
import { RefusalMemo } from "./refusal-memo";
import { newSessionId } from "./session-id";

export interface RedisDirectoryOptions extends LateEndEvents {
  /** Namespace for every key, so several deployments (or tests) can share one Redis. */
  prefix?: string;
  /** An entry not refreshed by a heartbeat within this vanishes (a node that died takes its providers with it). */
  entryTtlMs: number;
  /** A session record outlives no session; this only bounds what a crashed node leaves behind. */
  sessionTtlMs?: number;
  /**
   * Redis Cluster: each model's keys carry a hash tag of their own (`{tag}`, 4 characters of the
   * model's hash), so the cluster spreads models over its shards and every script stays in one
   * slot. A provider serving models of several tags has one entry per tag (see README).
   */
  shardByModel?: boolean;
  /** Called for every command sent, with what it was for: the Redis cost of each operation. */
  onCommand?: (op: DirectoryOp) => void;
  /** How ends owed to Redis are retried (late-ends.ts); the defaults: every second, 60 unanswered tries. */
  lateEnd?: LateEndOptions;
  /**
   * Lease capacity to this node (redis-leases.ts): pairings reserve from the node's pool with no
   * Redis round trip before the grant. `node` is this node's id (its leases go when it dies).
   */
  lease?: NodeLeaseOptions & LeaseEvents;
}

/**
 * The directory shared by several signaling processes. Keys live in spaces (redis-spaces.ts). In
 * a space: `p:<identityKey>` hash (entry and counters, PEXPIRE'd), `providers` set, `m:<model>`
 * set of identity keys, the matchmaking index (`q:`, `f:`, `a:`, `fx`, `seq`; see
 * redis-scripts.ts), `s:<sessionId>` session hash, `sessions` sorted set (createdAt) for
 * counting, and per signaling node `n:<node>:p` (identity keys it registered) and `n:<node>:s`
 * (sessions with a party on it), so a dead node's leftovers are found without a scan; the market
 * view's sums (`ms`, `ml`, `mx`, `mt`; redis-market-sums.ts). Set and
 * index members whose hash expired are pruned when read.
 */
export class RedisDirectory implements ProviderDirectory {
  private readonly entryTtlMs: number;
  private readonly sessionTtlMs: number;
  private readonly spaces: KeySpaces;
  private readonly clients: CountedClients;
  private readonly leases: NodeLeases | undefined;
  private readonly leaseEvents: LeaseEvents | undefined;
  private readonly lateEnds: LateEnds;
  /** Set once `listen` has subscribed to registrations' announcements (refusal-memo.ts). */
  private memo: RefusalMemo | undefined;

  constructor(client: RedisClient, options: RedisDirectoryOptions) {
    this.entryTtlMs = options.entryTtlMs;
    this.sessionTtlMs = options.sessionTtlMs ?? 24 * 3600_000;
    this.spaces = new KeySpaces(options.prefix ?? "silk:", options.shardByModel ?? false);
    this.clients = new CountedClients(client, options.onCommand);
    this.lateEnds = new LateEnds(
      (space, sessionId) => runScript(this.via("end"), CLOSE, space, [`s:${sessionId}`], [sessionId]),
      // node-redis's clients say whether they are connected; a client that cannot is taken as ready.
      () => (client as { readonly isReady?: boolean }).isReady !== false,
      { maxAgeMs: this.sessionTtlMs, ...options.lateEnd },
      options,
    );
    const lease = options.lease;
    this.leaseEvents = lease;
    if (lease && lease.units > 0)
      this.leases = new NodeLeases(
        {
          run: (op, script, model, keys, args) =>
            runScript(this.via(op), script, this.spaces.spaceOfModel(model), keys, args),
          spaceOf: (model) => this.spaces.spaceOfModel(model),
          sessionTtlMs: this.sessionTtlMs,
        },
        lease,
        lease,
      );
  }

  async register(record: ProviderRecord, now: number): Promise<void> {
    const id = record.identityKey;
    const spaces = this.spaces;
    this.leases?.forget(id);
    const fields = { ...recordToFields(record), seenAt: String(now) };
    const byTag = new Map<string, string[]>();
    for (const { model } of record.models) {
      const tag = spaces.tagOf(model);
      byTag.set(tag, [...(byTag.get(tag) ?? []), model]);
    }
    const redis = this.via("register");
    this.memo?.announce(record.models.map((m) => m.model));
    // Spaces the provider leaves (its models changed): drop its entry there, whoever owns it.
    const before = await spaces.before(id, redis);
    spaces.remember(id, [...byTag.keys()]);
    // Issued in one tick: one pipeline (per shard).
    await Promise.all([
      ...before
        .filter((tag) => !byTag.has(tag))
        .map((tag) => runScript(redis, FORGET, spaces.space(tag), [`p:${id}`], [id])),
      ...(spaces.sharded ? [redis.sAdd(spaces.tagsKey(), [...byTag.keys()])] : []),
      ...[...byTag].map(([tag, models]) =>
        runScript(
          redis,
          REGISTER,
          spaces.space(tag),
          [`p:${id}`],
          [
            String(this.entryTtlMs),
            models.join(" "),
            id,
            record.node ?? "",
            // In a cluster only the entry in the first model's space counts in the market's sums.
            ...Object.entries({
              ...fields,
              models: models.join(" "),
              ...(tag !== spaces.tagOf(record.models[0]!.model) && { mo: "1" }),
            }).flat(),
          ],
        ),
      ),
      // Announced in the same pipeline, after the entry is written: by the time the registration
      // is acked, every node's subscriber has the news, so no node refuses from an old memo.
      redis.publish(this.listedChannel(), JSON.stringify(record.models.map((m) => m.model))),
    ]);
  }

  /**
   * Subscribes (with the node's subscriber connection) to what other nodes announce: with leases,
   * the providers whose leases a heartbeat gave back (their units leave this node's pool at once,
   * not at its next RENEW); with `memoMs` > 0, refusals answered from memory (refusal-memo.ts),
   * kept for `memoMs` at most, forgotten on every node's registrations' announcements.
   */
  async listen(subscribe: Subscribe, memoMs: number): Promise<void> {
    const leases = this.leases;
    if (leases) await subscribe(this.releasedChannel(), (identityKey) => leases.forget(identityKey));
    if (memoMs <= 0) return;
    const memo = new RefusalMemo(memoMs);
    await subscribe(this.listedChannel(), (message) => memo.hear(message));
    this.memo = memo;
  }

  private listedChannel(): string {
    return `${this.spaces.prefix}listed`;
  }

  private releasedChannel(): string {
    return `${this.spaces.prefix}released`;
  }

  async unregister(identityKey: string, socketId: string): Promise<boolean> {
    const redis = this.via("unregister");
    this.leases?.forget(identityKey);
    const tags = await this.spaces.ofProvider(identityKey, redis);
    this.spaces.forget(identityKey);
    const r = await Promise.all(
      tags.map((tag) =>
        runScript(redis, UNREGISTER, this.spaces.space(tag), [`p:${identityKey}`], [socketId, identityKey]),
      ),
    );
    return r.includes(1);
  }

  async heartbeat(identityKey: string, socketId: string, load: number, now: number): Promise<boolean> {
    const redis = this.via("heartbeat");
    const args = [socketId, String(load), String(now), String(this.entryTtlMs), identityKey];
    const tags = await this.spaces.ofProvider(identityKey, redis);
    const r = await Promise.all(
      tags.map((tag) => runScript(redis, HEARTBEAT, this.spaces.space(tag), [`p:${identityKey}`], args)),
    );
    // 2: the load left no room for the units leased of it, given back; this node's pool forgets
    // them, and every other node's on the announcement (or at its next RENEW, if that is lost).
    if (r.includes(2) && this.leases) {
      this.leases.forget(identityKey);
      await redis
        .publish(this.releasedChannel(), identityKey)
        .catch((err: unknown) => this.leaseEvents?.onLeaseError?.("announce", err, undefined));
    }
    return r.length > 0 && r.every((x) => x === 1 || x === 2);
  }

  async providersFor(model: string): Promise<readonly ProviderState[]> {
    const space = this.spaces.spaceOfModel(model);
    return loadProviders(this.via("read"), space, `${space}m:${model}`);
  }

  async providerOf(identityKey: string, model: string): Promise<ProviderState | undefined> {
    const space = this.spaces.spaceOfModel(model);
    // An entry expires whole (PEXPIRE'd): gone, it reads as no fields. A space holds every model
    // of its tag: the entry may be the provider's for other models only.
    const state = stateFromFields(await this.via("read").hGetAll(`${space}p:${identityKey}`));
    return state?.models.some((m) => m.model === model) ? state : undefined;
  }

  /** Every provider once (in a cluster, the entry of its first space: counters are per space). */
  async all(): Promise<readonly ProviderState[]> {
    const redis = this.via("read");
    const lists = await Promise.all(
      (await this.spaces.all(redis)).map((tag) => {
        const space = this.spaces.space(tag);
        return loadProviders(redis, space, `${space}providers`);
      }),
    );
    const seen = new Map<string, ProviderState>();
    for (const p of lists.flat()) if (!seen.has(p.identityKey)) seen.set(p.identityKey, p);
    return [...seen.values()];
  }

  /**
   * The sums each space keeps as its entries change (redis-market-sums.ts): one command per
   * space, a few groups back, however many providers. In a cluster each provider counts in one
   * space (its first model's), so the spaces' groups add up.
   */
  async market(): Promise<readonly MarketGroup[]> {
    const redis = this.via("read");
    const replies = await Promise.all(
      (await this.spaces.all(redis)).map((tag) =>
        runScript(redis, MARKET, this.spaces.space(tag), ["mt"], []),
      ),
    );
    return replies.flatMap(marketFromReply);
  }

  reserveNow(request: PickRequest, draft: SessionDraft): Paired | Refused | undefined {
    if (!this.leases && !this.memo) return undefined;
    const sessionId = newSessionId(this.spaces.tagOf(request.model));
    // Granted from this node's lease; the record follows in one command, not awaited.
    const unit = this.leases?.take(request, sessionId, draft);
    if (unit) return { ok: true, sessionId, provider: unit.provider, price: unit.price };
    return this.memo?.answer(request);
  }

  async reserveBest(request: PickRequest, draft: SessionDraft): Promise<Paired | Refused> {
    const here = this.reserveNow(request, draft);
    if (here) return here;
    const tag = this.spaces.tagOf(request.model);
    const sessionId = newSessionId(tag);
    const epoch = this.memo?.epoch() ?? 0;
    const space = this.spaces.space(tag);
    const reply = await runScript(
      this.via("pair"),
      PAIR,
      space,
      ["fx"],
      [
        request.model,
        String(request.now),
        String(request.failureWindowMs),
        costKey(request.maxPrice.completionNanoPerToken * BPS),
        costKey(request.maxPrice.promptNanoPerToken * BPS),
        sessionId,
        draft.requesterSocketId,
        draft.requesterNode ?? "",
        String(this.sessionTtlMs),
        ...request.exclude,
      ],
    ).catch((err: unknown) => {
      if (owesEnd(err)) this.lateEnds.owe(space, sessionId);
      throw err;
    });
    const [ok, body, cheapest] = Array.isArray(reply) ? reply : [];
    // Only a model granted here gets a pool (after its grant, which takes the best pick first):
    // refusals, for models nobody serves, say, lease nothing.
    if (ok === 1) this.leases?.topUp(request.model, request.now);
    if (ok !== 1) {
      const code = (typeof body === "string" ? body : "NO_MODEL") as NoMatchCode;
      const floor = typeof cheapest === "string" ? BigInt(cheapest) : undefined;
      this.memo?.learn(request, epoch, code, floor);
      return refusal(code, request, floor);
    }
    const provider = stateFromFields(pairsToFields(body));
    const listing = provider?.models.find((m) => m.model === request.model);
    // The script read the entry it reserved: unreadable only if something else wrote that hash.
    if (!provider || !listing) throw new Error("reserved a provider entry that does not decode");
    return { ok: true, sessionId, provider, price: listing.price };
  }

  /**
   * A session whose pairing or end got no reply from Redis, or a "not now" one (LOADING while a
   * restarted Redis reads its data, BUSY, READONLY...: `owesEnd`), is owed an end, sent until
   * Redis answers (late-ends.ts). A pairing may still run (a paused Redis, a slow network: it reads the
   * command once it moves again, after the requester was told DIRECTORY_UNAVAILABLE), and an end
   * may never have (an EVALSHA that timed out and then came back NOSCRIPT, on a Redis that
   * restarted or failed over, is not sent again as EVAL): either way the session would hold a unit
   * of the provider's capacity for nobody until the session TTL. CLOSE is idempotent and runs after
   * what was sent before it on the connection.
   */
  get owedEnds(): number {
    return this.lateEnds.size;
  }

  async recordFailure(identityKey: string, socketId: string, now: number): Promise<void> {
    const redis = this.via("failure");
    const tags = await this.spaces.ofProvider(identityKey, redis);
    // A provider that failed goes last in the order: this node's units of it are given back.
    await this.leases?.giveBack(identityKey);
    await Promise.all(
      tags.map((tag) =>
        runScript(
          redis,
          FAILURE,
          this.spaces.space(tag),
          [`p:${identityKey}`],
          [socketId, String(now), identityKey],
        ),
      ),
    );
  }

  closeNow(sessionId: string): { readonly record: SessionRecord | undefined } | undefined {
    // An in-node session (both parties here) has no record in Redis: its end sends nothing.
    const inNode = this.leases?.end(sessionId);
    if (inNode) return { record: inNode };
    return this.spaces.sessionSpace(sessionId) ? undefined : { record: undefined };
  }

  async closeSession(sessionId: string): Promise<SessionRecord | undefined> {
    const here = this.closeNow(sessionId);
    if (here) return here.record;
    const space = this.spaces.sessionSpace(sessionId)!;
    const reply = await runScript(this.via("end"), CLOSE, space, [`s:${sessionId}`], [sessionId]).catch(
      (err: unknown) => {
        // The caller hears DIRECTORY_UNAVAILABLE; the place is still given back once Redis answers.
        if (owesEnd(err)) this.lateEnds.owe(space, sessionId);
        throw err;
      },
    );
    return sessionFromReply(sessionId, reply);
  }

  async dropNode(node: string): Promise<{ providers: number; sessions: string[] }> {
    const redis = this.via("unregister");
    const replies = await Promise.all(
      (await this.spaces.all(redis)).map((tag) =>
        runScript(redis, DROP_NODE, this.spaces.space(tag), [`n:${node}:p`], [node]),
      ),
    );
    return droppedFromReplies(replies);
  }

  async sessionCount(): Promise<number> {
    const redis = this.via("read");
    const counts = await Promise.all(
      (await this.spaces.all(redis)).map(async (tag) => {
        const key = `${this.spaces.space(tag)}sessions`;
        await redis.zRemRangeByScore(key, "-inf", Date.now() - this.sessionTtlMs);
        return redis.zCard(key);
      }),
    );
    return counts.reduce((a, b) => a + b, this.leases?.inNodeSessions ?? 0);
  }

  /** Resolves once the lease commands in flight (records of pooled pairings, top-ups) have settled. */
  async settled(): Promise<void> {
    await this.leases?.settled();
  }

  /** The providers whose leased units of `model` this node's pool holds (what it can grant without Redis). */
  pooled(model: string): readonly string[] {
    return this.leases?.pooled(model) ?? [];
  }

  /** Gives this node's leased units back; the client belongs to the caller, who closes it. */
  async close(): Promise<void> {
    this.lateEnds.close();
    await this.leases?.close();
  }

  private via(op: DirectoryOp): RedisClient {
    return this.clients.via(op);
  }
}
