import { AUDIT_DROP_FAILURES, type AuditCounts, type AuditLedger, type Standing } from "./audit-ledger";

/** The node-redis commands the ledger uses; a connected client or cluster satisfies it. */
export interface AuditRedis {
  set(
    key: string,
    value: string,
    options: { condition: "NX"; expiration: { type: "EX"; value: number } },
  ): Promise<unknown>;
  hIncrBy(key: string, field: string, increment: number): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  sAdd(key: string, members: string): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  incr(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
}

/** How long a counted report is remembered (a signed answer older than this could count again). */
const SEEN_SECONDS = 90 * 24 * 3600;

/**
 * The audit ledger in Redis, shared by every node. Keys of one provider share its hash tag
 * (`{provider}`), so a Redis Cluster keeps them on one shard; the flagged and dropped sets are one
 * key each.
 */
export class RedisAuditLedger implements AuditLedger {
  /** The last standing read and when: pairing asks on every request (see `standing`). */
  private cached: { at: number; read: ReturnType<RedisAuditLedger["readStanding"]> } | undefined;
  /** The last read that has come back, answered while a newer one is in flight. */
  private settled: ReturnType<RedisAuditLedger["readStanding"]> | undefined;
  /** What `settled` resolved to, for `standingNow`. */
  private known: Standing | undefined;

  constructor(
    private readonly redis: AuditRedis,
    private readonly prefix: string,
    /** How stale the flagged and dropped sets may be: a pairing stays one Redis round trip. */
    private readonly standingTtlMs = 1_000,
  ) {}

  async count(
    provider: string,
    model: string,
    verdict: "pass" | "fail",
    reportKey: string,
  ): Promise<boolean> {
    const fresh = await this.redis.set(`${this.prefix}audit-seen:{${provider}}:${reportKey}`, "1", {
      condition: "NX",
      expiration: { type: "EX", value: SEEN_SECONDS },
    });
    if (fresh !== "OK") return false;
    await this.redis.hIncrBy(
      this.countsKey(provider),
      `${model}|${verdict === "pass" ? "passed" : "failed"}`,
      1,
    );
    if (verdict === "fail") {
      this.forget();
      const failed = await this.redis.hIncrBy(this.countsKey(provider), "*|failed", 1);
      await this.redis.sAdd(`${this.prefix}audit-flagged`, provider);
      if (failed >= AUDIT_DROP_FAILURES) await this.redis.sAdd(`${this.prefix}audit-dropped`, provider);
      // Again: a read that started before the sets were written must not answer for them.
      this.forget();
    }
    return true;
  }

  async countsOf(provider: string): Promise<ReadonlyMap<string, AuditCounts>> {
    const raw = await this.redis.hGetAll(this.countsKey(provider));
    const out = new Map<string, { passed: number; failed: number }>();
    for (const [field, value] of Object.entries(raw)) {
      const at = field.lastIndexOf("|");
      const model = field.slice(0, at);
      if (model === "*") continue;
      const c = out.get(model) ?? { passed: 0, failed: 0 };
      c[field.slice(at + 1) === "passed" ? "passed" : "failed"] = Number(value);
      out.set(model, c);
    }
    return out;
  }

  /**
   * Read at most once per `standingTtlMs` (concurrent callers share the read): every pairing asks,
   * and two set reads per request would double its Redis round trips for sets that change only
   * when an audit fails. Once aged out, the last read still answers while the next one is in
   * flight, so no pairing waits on Redis for it (only the first, and the first after a failure
   * counted here, which must see it).
   */
  standing() {
    const now = Date.now();
    const cached = this.cached;
    if (!cached || now - cached.at >= this.standingTtlMs) {
      const read = this.readStanding();
      this.cached = { at: now, read };
      read.then(
        (value) => {
          if (this.cached?.read !== read) return;
          this.settled = read;
          this.known = value;
        },
        () => {
          if (this.cached?.read === read) this.cached = undefined;
        },
      );
      if (cached && this.settled && this.standingTtlMs > 0) return this.settled;
    }
    return this.cached!.read;
  }

  /** The answer `standing` would give, when it has come back already. */
  standingNow(): Standing | undefined {
    return this.standing() === this.settled ? this.known : undefined;
  }

  private forget(): void {
    this.cached = undefined;
    this.settled = undefined;
    this.known = undefined;
  }

  private async readStanding(): Promise<Standing> {
    const [flagged, dropped] = await Promise.all([
      this.redis.sMembers(`${this.prefix}audit-flagged`),
      this.redis.sMembers(`${this.prefix}audit-dropped`),
    ]);
    return { flagged: new Set(flagged), dropped: new Set(dropped) };
  }

  forged(reporter: string): Promise<number> {
    return this.redis.incr(`${this.prefix}audit-forged:{${reporter}}`);
  }

  async forgedBy(reporter: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}audit-forged:{${reporter}}`)) ?? 0);
  }

  private countsKey(provider: string): string {
    return `${this.prefix}audits:{${provider}}`;
  }
}
