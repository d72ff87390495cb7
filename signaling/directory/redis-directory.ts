import { createHash } from "node:crypto";
import { BPS } from "../../protocol";
import type {
  Candidate,
  PickRequest,
  ProviderDirectory,
  ProviderRecord,
  ProviderState,
  SessionRecord,
} from "./directory";
import { costKey, recordToFields, stateFromFields } from "./record-codec";
import { FAILURE, HEARTBEAT, REGISTER, RELEASE, RESERVE, RESERVE_BEST, UNREGISTER } from "./redis-scripts";

/** The node-redis commands the directory uses; a connected `createClient()` satisfies it. */
export interface RedisClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  set(key: string, value: string, options: { expiration: { type: "PX"; value: number } }): Promise<unknown>;
  getDel(key: string): Promise<unknown>;
  zAdd(key: string, member: { score: number; value: string }): Promise<unknown>;
  zRem(key: string, member: string): Promise<unknown>;
  zRemRangeByScore(key: string, min: string, max: number): Promise<unknown>;
  zCard(key: string): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, members: string | string[]): Promise<unknown>;
  sAdd(key: string, members: string | string[]): Promise<unknown>;
  del(key: string | string[]): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<(string | null)[]>;
  hGetAll(key: string): Promise<Record<string, string>>;
}

export interface RedisDirectoryOptions {
  /** Namespace for every key, so several deployments (or tests) can share one Redis. */
  prefix?: string;
  /** An entry not refreshed by a heartbeat within this vanishes (a node that died takes its providers with it). */
  entryTtlMs: number;
  /** A session record outlives no session; this only bounds what a crashed node leaves behind. */
  sessionTtlMs?: number;
}

/**
 * The directory shared by several signaling processes. Layout under `prefix`:
 * `p:<identityKey>` hash (entry and counters, PEXPIRE'd), `providers` set, `m:<model>` set of
 * identity keys, `s:<sessionId>` session JSON, `sessions` sorted set (createdAt) for counting,
 * the matchmaking index (`q:`, `f:`, `fx`, `seq`; see redis-scripts.ts), and per signaling node
 * `n:<node>:p` (identity keys it registered) and `n:<node>:s` (sessions with a party on it), so a
 * dead node's leftovers are found without a scan. Set and index members whose hash expired are
 * pruned when read.
 */
export class RedisDirectory implements ProviderDirectory {
  private readonly prefix: string;
  private readonly entryTtlMs: number;
  private readonly sessionTtlMs: number;

  constructor(
    private readonly client: RedisClient,
    options: RedisDirectoryOptions,
  ) {
    this.prefix = options.prefix ?? "silk:";
    this.entryTtlMs = options.entryTtlMs;
    this.sessionTtlMs = options.sessionTtlMs ?? 24 * 3600_000;
  }

  /**
   * Runs a script by its SHA1 (EVALSHA), so each call sends a few bytes instead of the script;
   * after a Redis restart or SCRIPT FLUSH, EVAL sends it once and caches it again.
   */
  private async run(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    try {
      return await this.client.evalSha(sha1Of(script), options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return this.client.eval(script, options);
    }
  }

  async register(record: ProviderRecord, now: number): Promise<void> {
    const fields = { ...recordToFields(record), seenAt: String(now) };
    const pairs = Object.entries(fields).flat();
    // Issued in one tick: one pipeline. A member left after the entry goes is checked at `dropNode`.
    await Promise.all([
      record.node ? this.client.sAdd(this.k(`n:${record.node}:p`), record.identityKey) : undefined,
      this.run(REGISTER, {
        keys: [this.pkey(record.identityKey), this.prefix],
        arguments: [
          String(this.entryTtlMs),
          record.models.map((m) => m.model).join(" "),
          record.identityKey,
          ...pairs,
        ],
      }),
    ]);
  }

  async unregister(identityKey: string, socketId: string): Promise<boolean> {
    const r = await this.run(UNREGISTER, {
      keys: [this.pkey(identityKey), this.prefix],
      arguments: [socketId, identityKey],
    });
    return r === 1;
  }

  async heartbeat(identityKey: string, socketId: string, load: number, now: number): Promise<boolean> {
    const r = await this.run(HEARTBEAT, {
      keys: [this.pkey(identityKey), this.prefix],
      arguments: [socketId, String(load), String(now), String(this.entryTtlMs), identityKey],
    });
    return r === 1;
  }

  async providersFor(model: string): Promise<readonly ProviderState[]> {
    return this.load(this.k(`m:${model}`));
  }

  async all(): Promise<readonly ProviderState[]> {
    return this.load(this.k("providers"));
  }

  async reserve(identityKey: string, socketId: string, now: number): Promise<boolean> {
    const r = await this.run(RESERVE, {
      keys: [this.pkey(identityKey), this.prefix],
      arguments: [socketId, String(now), identityKey],
    });
    return r === 1;
  }

  async reserveBest(request: PickRequest): Promise<Candidate | undefined> {
    const reply = await this.run(RESERVE_BEST, {
      // The first key only routes the script; the index keys all live under the prefix.
      keys: [this.k("fx"), this.prefix],
      arguments: [
        request.model,
        String(request.now),
        String(request.failureWindowMs),
        costKey(request.maxPrice.completionNanoPerToken * BPS),
        costKey(request.maxPrice.promptNanoPerToken * BPS),
        ...request.exclude,
      ],
    });
    if (!Array.isArray(reply)) return undefined;
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
    const provider = stateFromFields(fields);
    const listing = provider?.models.find((m) => m.model === request.model);
    return provider && listing && { provider, price: listing.price };
  }

  async release(identityKey: string, socketId: string): Promise<void> {
    await this.run(RELEASE, {
      keys: [this.pkey(identityKey), this.prefix],
      arguments: [socketId, identityKey],
    });
  }

  async recordFailure(identityKey: string, socketId: string, now: number): Promise<void> {
    await this.run(FAILURE, {
      keys: [this.pkey(identityKey), this.prefix],
      arguments: [socketId, String(now), identityKey],
    });
  }

  async openSession(session: SessionRecord): Promise<void> {
    await Promise.all([
      this.client.set(this.k(`s:${session.sessionId}`), JSON.stringify(session), {
        expiration: { type: "PX", value: this.sessionTtlMs },
      }),
      this.client.zAdd(this.k("sessions"), { score: session.createdAt, value: session.sessionId }),
      ...nodesOf(session).map((node) => this.client.sAdd(this.k(`n:${node}:s`), session.sessionId)),
    ]);
  }

  async closeSession(sessionId: string): Promise<SessionRecord | undefined> {
    const [text] = await Promise.all([
      this.client.getDel(this.k(`s:${sessionId}`)),
      this.client.zRem(this.k("sessions"), sessionId),
    ]);
    if (typeof text !== "string") return undefined;
    let record: SessionRecord;
    try {
      record = JSON.parse(text) as SessionRecord;
    } catch {
      return undefined;
    }
    await Promise.all(nodesOf(record).map((node) => this.client.sRem(this.k(`n:${node}:s`), sessionId)));
    return record;
  }

  async dropNode(node: string): Promise<{ providers: number; sessions: string[] }> {
    const pset = this.k(`n:${node}:p`);
    const sset = this.k(`n:${node}:s`);
    const [ids, sessions] = await Promise.all([this.client.sMembers(pset), this.client.sMembers(sset)]);
    const owners = await Promise.all(ids.map((id) => this.client.hmGet(this.pkey(id), ["node", "socketId"])));
    const dropped = await Promise.all(
      owners.map(([at, socketId], i) =>
        at === node && socketId ? this.unregister(ids[i]!, socketId) : Promise.resolve(false),
      ),
    );
    await this.client.del([pset, sset]);
    return { providers: dropped.filter(Boolean).length, sessions };
  }

  async sessionCount(): Promise<number> {
    const key = this.k("sessions");
    await this.client.zRemRangeByScore(key, "-inf", Date.now() - this.sessionTtlMs);
    return this.client.zCard(key);
  }

  /** The client belongs to the caller, who closes it. */
  async close(): Promise<void> {}

  private async load(setKey: string): Promise<ProviderState[]> {
    const keys = await this.client.sMembers(setKey);
    // Issued in one tick, so node-redis sends them as one pipeline.
    const hashes = await Promise.all(keys.map((key) => this.client.hGetAll(this.pkey(key))));
    const out: ProviderState[] = [];
    const gone: string[] = [];
    hashes.forEach((fields, i) => {
      const state = stateFromFields(fields);
      if (state) out.push(state);
      else gone.push(keys[i]!);
    });
    if (gone.length > 0) await this.client.sRem(setKey, gone);
    return out;
  }

  private pkey(identityKey: string): string {
    return this.k(`p:${identityKey}`);
  }

  private k(suffix: string): string {
    return this.prefix + suffix;
  }
}

function nodesOf(s: SessionRecord): string[] {
  return [...new Set([s.requesterNode, s.providerNode])].filter((n): n is string => Boolean(n));
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
