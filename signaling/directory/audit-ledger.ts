/**
 * What audits found, per provider and model (issue 16): how many checked reports said pass and
 * fail, which reports were counted already (one signed answer counts once), and how many forged
 * reports each reporter sent. In memory for one node; `RedisAuditLedger` shares it between nodes.
 */
export interface AuditCounts {
  readonly passed: number;
  readonly failed: number;
}

export interface Standing {
  readonly flagged: ReadonlySet<string>;
  readonly dropped: ReadonlySet<string>;
}

export interface AuditLedger {
  /** Counts one checked report, once per `reportKey`; false when it was counted already. */
  count(provider: string, model: string, verdict: "pass" | "fail", reportKey: string): Promise<boolean>;
  /** Model → counts, for one provider. */
  countsOf(provider: string): Promise<ReadonlyMap<string, AuditCounts>>;
  /** Providers with a failed audit on any model (ranked last), and those past the drop threshold. */
  standing(): Promise<Standing>;
  /** `standing` when it is known in this turn (the pairing path then waits on no promise). */
  standingNow?(): Standing | undefined;
  /** One more forged report from `reporter`; how many it has sent. */
  forged(reporter: string): Promise<number>;
  forgedBy(reporter: string): Promise<number>;
}

/** A provider with this many failed audits (on any model) is offered to nobody. */
export const AUDIT_DROP_FAILURES = 3;
/** A reporter with this many forged reports is not heard any more. */
export const MAX_FORGED_REPORTS = 3;

export class MemoryAuditLedger implements AuditLedger {
  private readonly counts = new Map<string, Map<string, { passed: number; failed: number }>>();
  private readonly seen = new Set<string>();
  private readonly forgeries = new Map<string, number>();
  /** Kept as reports are counted: every pairing reads them, so none walks every audited provider. */
  private readonly flagged = new Set<string>();
  private readonly dropped = new Set<string>();

  async count(
    provider: string,
    model: string,
    verdict: "pass" | "fail",
    reportKey: string,
  ): Promise<boolean> {
    if (this.seen.has(reportKey)) return false;
    this.seen.add(reportKey);
    const byModel = this.counts.get(provider) ?? new Map();
    this.counts.set(provider, byModel);
    const c = byModel.get(model) ?? { passed: 0, failed: 0 };
    byModel.set(model, verdict === "pass" ? { ...c, passed: c.passed + 1 } : { ...c, failed: c.failed + 1 });
    if (verdict === "fail") {
      const failed = [...byModel.values()].reduce((n, x) => n + x.failed, 0);
      this.flagged.add(provider);
      if (failed >= AUDIT_DROP_FAILURES) this.dropped.add(provider);
    }
    return true;
  }

  async countsOf(provider: string): Promise<ReadonlyMap<string, AuditCounts>> {
    return new Map(this.counts.get(provider) ?? []);
  }

  async standing(): Promise<Standing> {
    return this.standingNow();
  }

  standingNow(): Standing {
    return { flagged: this.flagged, dropped: this.dropped };
  }

  async forged(reporter: string): Promise<number> {
    const n = (this.forgeries.get(reporter) ?? 0) + 1;
    this.forgeries.set(reporter, n);
    return n;
  }

  async forgedBy(reporter: string): Promise<number> {
    return this.forgeries.get(reporter) ?? 0;
  }
}
