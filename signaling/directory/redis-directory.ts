import { createHash } from "node:crypto";
import { BPS } from "../../protocol";
import { type NoMatchCode, refusal } from "../matchmaking";
import {
  type MarketGroup,
  marketOf,
  type Paired,
  type PickRequest,
  type ProviderDirectory,
  type ProviderRecord,
  type ProviderState,
  type Refused,
  type SessionDraft,
  type SessionRecord,
} from "./directory";
import { costKey, listingsFromField, pairsToFields, recordToFields, stateFromFields } from "./record-codec";
import { type LeaseEvents, type NodeLeaseOptions, NodeLeases } from "./redis-leases";
import {
  CLOSE,
  DROP_NODE,
  FAILURE,
  FORGET,
  HEARTBEAT,
  MARKET,
  PAIR,
  REGISTER,
  UNREGISTER,
} from "./redis-scripts";
import { RefusalMemo } from "./refusal-memo";
import { newSessionId } from "./session-id";

/**
 * The node-redis commands the directory uses; a connected `createClient()` or `createCluster()`
 * satisfies it (a cluster routes each command by its first key).
 */
export interface RedisClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  sAdd(key: string, members: string | string[]): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, members: string | string[]): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
  zRemRangeByScore(key: string, min: string | number, max: string | number): Promise<unknown>;
  zCard(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<unknown>;
}

/** A subscription to a Redis pub/sub channel (the node's subscriber connection, not the data client). */
export type Subscribe = (channel: string, listener: (message: string) => void) => Promise<unknown>;

/** What each Redis command is sent for (the `op` label of `silk_redis_commands_total`). */
export type DirectoryOp =
  | "pair"
  | "end"
  | "register"
  | "heartbeat"
  | "unregister"
  | "failure"
  | "read"
  | "lease";

export interface RedisDirectoryOptions {
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
  /**
   * Lease capacity to this node (redis-leases.ts): pairings reserve from the node's pool with no
   * Redis round trip before the grant. `node` is this node's id (its leases go when it dies).
   */
  lease?: NodeLeaseOptions & LeaseEvents;
}

/**
 * The directory shared by several signaling processes. Keys live in spaces: the prefix alone on
 * one Redis, or `<prefix>{<tag>}:` per model tag in a cluster. In a space: `p:<identityKey>` hash
 * (entry and counters, PEXPIRE'd), `providers` set, `m:<model>` set of identity keys, the
 * matchmaking index (`q:`, `f:`, `a:`, `fx`, `seq`; see redis-scripts.ts), `s:<sessionId>`
 * session hash, `sessions` sorted set (createdAt) for counting, and per signaling node
 * `n:<node>:p` (identity keys it registered) and `n:<node>:s` (sessions with a party on it), so a
 * dead node's leftovers are found without a scan. In a cluster, `<prefix>tags` lists the spaces
 * in use and a session id starts with its space's tag. Set and index members whose hash expired
 * are pruned when read.
 */
export class RedisDirectory implements ProviderDirectory {
  private readonly prefix: string;
  private readonly entryTtlMs: number;
  private readonly sessionTtlMs: number;
  private readonly sharded: boolean;
  private readonly clients = new Map<DirectoryOp, RedisClient>();
  private readonly tags = new Map<string, string>();
  /** In a cluster: the tags of the providers registered through this node (their heartbeats come here). */
  private readonly localTags = new Map<string, string[]>();
  private readonly leases: NodeLeases | undefined;
  /** Set once `listen` has subscribed to registrations' announcements (refusal-memo.ts). */
  private memo: RefusalMemo | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly options: RedisDirectoryOptions,
  ) {
    this.prefix = options.prefix ?? "silk:";
    this.entryTtlMs = options.entryTtlMs;
    this.sessionTtlMs = options.sessionTtlMs ?? 24 * 3600_000;
    this.sharded = options.shardByModel ?? false;
    const lease = options.lease;
    if (lease && lease.units > 0)
      this.leases = new NodeLeases(
        {
          run: (op, script, model, keys, args) =>
            this.run(this.via(op), script, this.space(this.tagOf(model)), keys, args),
          spaceOf: (model) => this.space(this.tagOf(model)),
          sessionTtlMs: this.sessionTtlMs,
        },
        lease,
        lease,
      );
  }

  async register(record: ProviderRecord, now: number): Promise<void> {
    const id = record.identityKey;
    this.leases?.forget(id);
    const fields = { ...recordToFields(record), seenAt: String(now) };
    const byTag = new Map<string, string[]>();
    for (const { model } of record.models) {
      const tag = this.tagOf(model);
      byTag.set(tag, [...(byTag.get(tag) ?? []), model]);
    }
    const redis = this.via("register");
    this.memo?.announce(record.models.map((m) => m.model));
    // Spaces the provider leaves (its models changed): drop its entry there, whoever owns it.
    const before = this.sharded ? (this.localTags.get(id) ?? (await this.spaces(redis))) : [];
    if (this.sharded) this.localTags.set(id, [...byTag.keys()]);
    // Issued in one tick: one pipeline (per shard).
    await Promise.all([
      ...before
        .filter((tag) => !byTag.has(tag))
        .map((tag) => this.run(redis, FORGET, this.space(tag), [`p:${id}`], [id])),
      ...(this.sharded ? [redis.sAdd(`${this.prefix}tags`, [...byTag.keys()])] : []),
      ...[...byTag].map(([tag, models]) =>
        this.run(
          redis,
          REGISTER,
          this.space(tag),
          [`p:${id}`],
          [
            String(this.entryTtlMs),
            models.join(" "),
            id,
            record.node ?? "",
            ...Object.entries({ ...fields, models: models.join(" ") }).flat(),
          ],
        ),
      ),
      // Announced in the same pipeline, after the entry is written: by the time the registration
      // is acked, every node's subscriber has the news, so no node refuses from an old memo.
      redis.publish(this.listedChannel(), JSON.stringify(record.models.map((m) => m.model))),
    ]);
  }

  /**
   * Refusals answered from memory (refusal-memo.ts), kept for `ttlMs` at most: subscribes (with
   * the node's subscriber connection) to the announcements every node's registrations make.
   */
  async listen(subscribe: Subscribe, ttlMs: number): Promise<void> {
    const memo = new RefusalMemo(ttlMs);
    await subscribe(this.listedChannel(), (message) => {
      let models: unknown;
      try {
        models = JSON.parse(message);
      } catch {
        models = undefined;
      }
      // An announcement not understood forgets everything: never a stale refusal.
      if (Array.isArray(models) && models.every((m) => typeof m === "string")) memo.announce(models);
      else memo.forgetAll();
    });
    this.memo = memo;
  }

  private listedChannel(): string {
    return `${this.prefix}listed`;
  }

  async unregister(identityKey: string, socketId: string): Promise<boolean> {
    const redis = this.via("unregister");
    this.leases?.forget(identityKey);
    const tags = await this.tagsOfProvider(identityKey, redis);
    this.localTags.delete(identityKey);
    const r = await Promise.all(
      tags.map((tag) =>
        this.run(redis, UNREGISTER, this.space(tag), [`p:${identityKey}`], [socketId, identityKey]),
      ),
    );
    return r.includes(1);
  }

  async heartbeat(identityKey: string, socketId: string, load: number, now: number): Promise<boolean> {
    const redis = this.via("heartbeat");
    const args = [socketId, String(load), String(now), String(this.entryTtlMs), identityKey];
    const tags = await this.tagsOfProvider(identityKey, redis);
    const r = await Promise.all(
      tags.map((tag) => this.run(redis, HEARTBEAT, this.space(tag), [`p:${identityKey}`], args)),
    );
    return r.length > 0 && r.every((x) => x === 1);
  }

  async providersFor(model: string): Promise<readonly ProviderState[]> {
    const space = this.space(this.tagOf(model));
    return this.load(this.via("read"), space, `${space}m:${model}`);
  }

  /** Every provider once (in a cluster, the entry of its first space: counters are per space). */
  async all(): Promise<readonly ProviderState[]> {
    const redis = this.via("read");
    const lists = await Promise.all(
      (await this.spaces(redis)).map((tag) =>
        this.load(redis, this.space(tag), `${this.space(tag)}providers`),
      ),
    );
    const seen = new Map<string, ProviderState>();
    for (const p of lists.flat()) if (!seen.has(p.identityKey)) seen.set(p.identityKey, p);
    return [...seen.values()];
  }

  /**
   * Summed in Redis on one Redis (one command, a few groups back). In a cluster a provider has an
   * entry per space, so the entries are read and counted once each, as `all` does.
   */
  async market(): Promise<readonly MarketGroup[]> {
    if (this.sharded) return marketOf(await this.all());
    const reply = await this.run(this.via("read"), MARKET, this.prefix, ["providers"], []);
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

  async reserveBest(request: PickRequest, draft: SessionDraft): Promise<Paired | Refused> {
    const tag = this.tagOf(request.model);
    const sessionId = newSessionId(tag);
    // Granted from this node's lease; the record follows in one command, not awaited.
    const unit = this.leases?.take(request, sessionId, draft);
    if (unit) return { ok: true, sessionId, provider: unit.provider, price: unit.price };
    const known = this.memo?.answer(request);
    if (known) return known;
    const epoch = this.memo?.epoch() ?? 0;
    const reply = await this.run(
      this.via("pair"),
      PAIR,
      this.space(tag),
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
    );
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

  async recordFailure(identityKey: string, socketId: string, now: number): Promise<void> {
    const redis = this.via("failure");
    const tags = await this.tagsOfProvider(identityKey, redis);
    // A provider that failed goes last in the order: this node's units of it are given back.
    await this.leases?.giveBack(identityKey);
    await Promise.all(
      tags.map((tag) =>
        this.run(redis, FAILURE, this.space(tag), [`p:${identityKey}`], [socketId, String(now), identityKey]),
      ),
    );
  }

  async closeSession(sessionId: string): Promise<SessionRecord | undefined> {
    const space = this.sessionSpace(sessionId);
    if (!space) return undefined;
    const reply = await this.run(this.via("end"), CLOSE, space, [`s:${sessionId}`], [sessionId]);
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

  async dropNode(node: string): Promise<{ providers: number; sessions: string[] }> {
    const redis = this.via("unregister");
    const replies = await Promise.all(
      (await this.spaces(redis)).map((tag) =>
        this.run(redis, DROP_NODE, this.space(tag), [`n:${node}:p`], [node]),
      ),
    );
    const providers = new Set<string>();
    const sessions: string[] = [];
    for (const reply of replies) {
      const [ids, sids] = Array.isArray(reply) ? reply : [];
      for (const id of Array.isArray(ids) ? ids : []) providers.add(String(id));
      for (const sid of Array.isArray(sids) ? sids : []) sessions.push(String(sid));
    }
    return { providers: providers.size, sessions };
  }

  async sessionCount(): Promise<number> {
    const redis = this.via("read");
    const counts = await Promise.all(
      (await this.spaces(redis)).map(async (tag) => {
        const key = `${this.space(tag)}sessions`;
        await redis.zRemRangeByScore(key, "-inf", Date.now() - this.sessionTtlMs);
        return redis.zCard(key);
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Resolves once the lease commands in flight (records of pooled pairings, top-ups) have settled. */
  async settled(): Promise<void> {
    await this.leases?.settled();
  }

  /** Gives this node's leased units back; the client belongs to the caller, who closes it. */
  async close(): Promise<void> {
    await this.leases?.close();
  }

  /**
   * Runs a script by its SHA1 (EVALSHA), so each call sends a few bytes instead of the script;
   * after a Redis restart or SCRIPT FLUSH, EVAL sends it once and caches it again. `keys` are
   * within `space`, whose prefix the script gets as its second key.
   */
  private async run(
    redis: RedisClient,
    script: string,
    space: string,
    keys: string[],
    args: string[],
  ): Promise<unknown> {
    const options = { keys: [...keys.map((k) => space + k), space], arguments: args };
    try {
      return await redis.evalSha(sha1Of(script), options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return redis.eval(script, options);
    }
  }

  private async load(redis: RedisClient, space: string, setKey: string): Promise<ProviderState[]> {
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

  /** The tag of a model's space: empty on one Redis (one space), 4 base64url characters in a cluster. */
  private tagOf(model: string): string {
    if (!this.sharded) return "";
    let tag = this.tags.get(model);
    if (!tag) {
      tag = modelTag(model);
      this.tags.set(model, tag);
    }
    return tag;
  }

  private space(tag: string): string {
    return tag ? `${this.prefix}{${tag}}:` : this.prefix;
  }

  private sessionSpace(sessionId: string): string | undefined {
    if (!this.sharded) return this.prefix;
    return sessionId.length > 4 ? this.space(sessionId.slice(0, 4)) : undefined;
  }

  private async spaces(redis: RedisClient): Promise<string[]> {
    return this.sharded ? redis.sMembers(`${this.prefix}tags`) : [""];
  }

  /** A provider's spaces: known for those registered here; otherwise every space is asked. */
  private async tagsOfProvider(identityKey: string, redis: RedisClient): Promise<string[]> {
    if (!this.sharded) return [""];
    return this.localTags.get(identityKey) ?? this.spaces(redis);
  }

  /** The client, counting each command sent under `op` (a view per op, made once). */
  private via(op: DirectoryOp): RedisClient {
    const onCommand = this.options.onCommand;
    if (!onCommand) return this.client;
    let view = this.clients.get(op);
    if (!view) {
      const client = this.client;
      view = new Proxy(client, {
        get(target, name, receiver) {
          const value: unknown = Reflect.get(target, name, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            onCommand(op);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      this.clients.set(op, view);
    }
    return view;
  }
}

/** A model's hash tag in a cluster: 4 base64url characters of its SHA-1 (models sharing one share a slot). */
export function modelTag(model: string): string {
  return createHash("sha1").update(model).digest("base64url").slice(0, 4);
}

const shas = new Map<string, string>();
function sha1Of(script: string): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}
