// `npm run auditor -- --model M --escrow ADDRESS --max-price N`: audit the providers of a model.
import wrtc from "@roamhq/wrtc";
import { exitOnHelp } from "../../peer/cli-help";
import { loadOrCreateKey } from "../../peer/key-file";
import { providerReference } from "../sdk/audit-reference";
import { Auditor, type AuditRecord, auditOver } from "../sdk/auditor";
import { connect } from "../sdk/silk-client";
import { AUDITOR_USAGE, type AuditorCliOptions, parseAuditorOptions } from "./options";

async function main(): Promise<void> {
  exitOnHelp(process.argv.slice(2), AUDITOR_USAGE);
  let opts: AuditorCliOptions;
  try {
    opts = parseAuditorOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${AUDITOR_USAGE}`);
    process.exit(2);
  }
  const { key } = loadOrCreateKey(opts.keyFile);
  // One client for challenges and references: the reference request avoids the suspect, and one
  // session per provider keeps every receipt stream single.
  const client = await connect({
    signalingUrl: opts.signalingUrl,
    sessionKey: key,
    maxPrice: opts.maxPrice,
    escrow: opts.escrow,
    keyEpoch: opts.keyEpoch,
    wrtc,
    requireSignedAnswers: true,
  });
  const auditor = opts.submit
    ? auditOver(client, key, { maxTokens: opts.maxTokens })
    : new Auditor({ client, reference: providerReference(client), reporter: key, maxTokens: opts.maxTokens });
  let failed = 0;
  for (let i = 0; i < opts.audits; i++) {
    const record = await auditor.audit(opts.model);
    if (record.verdict.result === "fail") failed++;
    console.log(JSON.stringify(line(record)));
  }
  client.close();
  process.exit(failed > 0 ? 1 : 0);
}

/** What one audit printed: never the prompt's answer text, only the verdict and who gave it. */
function line(r: AuditRecord) {
  const v = r.verdict;
  return {
    model: r.model,
    provider: r.provider ?? null,
    result: v.result,
    ...("rms" in v && { compared: v.compared, rms: Number(v.rms.toFixed(4)) }),
    // How the reference scored the tokens: only "teacher-forcing" compared each after the answer's own.
    ...(r.method && { method: r.method }),
    ...(v.reason && { reason: v.reason }),
    reported: Boolean(r.report) && !r.submitError,
    ...(r.submitError && { submitError: r.submitError }),
  };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
