import { AuditReportEvent, checkReport, MAX_AUDIT_REPORT_BYTES, reportKey } from "../protocol";
import type { ServerContext } from "./context";
import { MAX_FORGED_REPORTS } from "./directory/audit-ledger";
import { SignalingError } from "./errors";
import { guarded, type Listeners } from "./event-guard";

/**
 * `audit:report`: a report is counted only when its evidence checks out (protocol/audit-report.ts:
 * the reporter's signature, the suspect's and the reference's signed statements, the comparison).
 * A report whose reporter signed evidence that does not hold counts against that reporter; past
 * `MAX_FORGED_REPORTS` it is not heard any more. One signed answer counts once.
 */
export function auditEvents(ctx: ServerContext): Listeners {
  const report = guarded(
    ctx,
    "audit:report",
    { schema: AuditReportEvent, maxBytes: MAX_AUDIT_REPORT_BYTES },
    async (msg) => {
      const reporter = reporterOf(msg.report);
      if (reporter && (await ctx.audits.forgedBy(reporter)) >= MAX_FORGED_REPORTS)
        throw new SignalingError("REPORT_REFUSED", "this reporter sent too many false reports");
      const check = checkReport(msg.report);
      if (!check.ok) {
        if (check.reporter) await ctx.audits.forged(check.reporter);
        throw new SignalingError("REPORT_REFUSED", check.reason);
      }
      const counted = await ctx.audits.count(
        check.provider,
        check.model,
        check.verdict,
        reportKey(msg.report as Parameters<typeof reportKey>[0]),
      );
      const counts = (await ctx.audits.countsOf(check.provider)).get(check.model) ?? { passed: 0, failed: 0 };
      return { ok: true, counted, provider: check.provider, model: check.model, ...counts };
    },
  );
  return [report];
}

function reporterOf(report: unknown): string | undefined {
  const r = (report as { reporter?: unknown } | null)?.reporter;
  return typeof r === "string" && /^[0-9a-f]{64}$/.test(r) ? r : undefined;
}
