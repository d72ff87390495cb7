import { DEFAULT_AUDIT_RATE } from "../../protocol";

/** The gateway's audits (issue 16): whether and how often it checks providers, and whom it asks. */
export interface GatewayAudits {
  /** The share of requests that bring a challenge along; 0 when audits are off. */
  readonly rate: number;
  /** Audits passed the signaling server must have counted for a provider of the model. */
  readonly minAuditsPassed?: number;
}

export const AUDIT_USAGE = `  --audits             send challenges beside ${DEFAULT_AUDIT_RATE * 100}% of requests and report providers that fail
                       them (paid from your escrow like any request)       (SILK_AUDITS=1)
  --audit-rate R       the share of requests audited, 0 to 1 (turns audits on)  (SILK_AUDIT_RATE)
  --min-audits N       only providers with N audits passed for the model   (SILK_MIN_AUDITS)`;

export const AUDIT_FLAGS = {
  audits: { type: "boolean" },
  "audit-rate": { type: "string" },
  "min-audits": { type: "string" },
} as const;

type AuditValues = { audits?: boolean; "audit-rate"?: string; "min-audits"?: string };

export function parseAuditOptions(values: AuditValues, env: NodeJS.ProcessEnv): GatewayAudits {
  const rateText = values["audit-rate"] ?? env.SILK_AUDIT_RATE;
  const on = values.audits === true || env.SILK_AUDITS === "1" || rateText !== undefined;
  let rate = on ? DEFAULT_AUDIT_RATE : 0;
  if (rateText !== undefined) {
    rate = Number(rateText);
    if (!/^(0|1|0?\.[0-9]+|1\.0*)$/.test(rateText) || rate < 0 || rate > 1)
      throw new Error("--audit-rate must be a number from 0 to 1");
  }
  const minText = values["min-audits"] ?? env.SILK_MIN_AUDITS;
  if (minText !== undefined && !/^(0|[1-9][0-9]{0,8})$/.test(minText))
    throw new Error("--min-audits must be a whole number");
  return { rate, ...(minText !== undefined && Number(minText) > 0 && { minAuditsPassed: Number(minText) }) };
}
