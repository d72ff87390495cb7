import type { AuditCountRow } from "../protocol/schemas/signaling";

// Light on purpose: the widget's model picker, in its first download, shows these.

export interface AuditTotals {
  readonly passed: number;
  readonly failed: number;
}

/** Audits passed and failed, summed over the rows that `keep` keeps. */
export function auditTotals(
  rows: readonly AuditCountRow[],
  keep: (r: AuditCountRow) => boolean,
): AuditTotals {
  let passed = 0;
  let failed = 0;
  for (const r of rows)
    if (keep(r)) {
      passed += r.passed;
      failed += r.failed;
    }
  return { passed, failed };
}

/** "3 audits passed, 1 failed", or undefined when there are none. */
export function auditText(t: AuditTotals): string | undefined {
  if (t.passed + t.failed === 0) return undefined;
  const passed = `${t.passed} audit${t.passed === 1 ? "" : "s"} passed`;
  return t.failed ? `${passed}, ${t.failed} failed` : passed;
}
