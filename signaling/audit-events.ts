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
      // Not held against the reporter: an honest reference may have left since it scored.
      if (check.reference && !(await scoresHere(ctx, check.reference, check.model)))
        throw new SignalingError(
          "REPORT_REFUSED",
          `the reference ${check.reference} is no provider of ${check.model} registered here that scores tokens: a key anyone can make vouches for no scores`,
        );
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

/**
 * Whether `key` is a provider registered now that serves `model` and declares scoring (plain or
 * forced), as a reference the auditor asked through signaling is. A report's verdict rests on its
 * reference's signed scores, and any key can sign some: without this, anyone could have an honest
 * provider flagged, and dropped after AUDIT_DROP_FAILURES paid requests, or pump a cheat's passes.
 * A provider the reporter runs itself is still possible (protocol/README.md: the attack left).
 */
async function scoresHere(ctx: ServerContext, key: string, model: string): Promise<boolean> {
  // One entry read, not every provider of the model (a report cost O(providers) Redis reads).
  // Registered keys are lowercase hex (Hex32).
  const p = await ctx.directory.providerOf(key.toLowerCase(), model);
  return (
    p?.models.some(
      (m) => m.model === model && (m.features?.includes("scoring") || m.features?.includes("forced_scoring")),
    ) ?? false
  );
}

function reporterOf(report: unknown): string | undefined {
  const r = (report as { reporter?: unknown } | null)?.reporter;
  return typeof r === "string" && /^[0-9a-f]{64}$/.test(r) ? r : undefined;
}
