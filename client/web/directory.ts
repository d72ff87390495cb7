import { perTokenPrice } from "../../protocol";
import { fetchModelsView } from "../../web/audit-counts";
import { type AuditTotals, auditTotals } from "../../web/audit-text";

/** One model of the live directory, as the model picker shows it. Prices are effective nanoTON per token. */
export interface ModelChoice {
  readonly id: string;
  readonly providers: number;
  readonly free: number;
  readonly promptNano: bigint;
  readonly completionNano: bigint;
  /** Audits passed and failed by the model's providers online now, as the signaling server counted them. */
  readonly audits: AuditTotals;
}

/** Reads `GET /api/models` from the signaling server (CORS-open, so the widget can read it from any page). */
export async function fetchDirectory(signalingUrl: string, signal?: AbortSignal): Promise<ModelChoice[]> {
  const view = await fetchModelsView(signalingUrl, signal);
  return view.models.map((m) => {
    const cheapest = m.prices[0]?.price;
    const asks = cheapest ? perTokenPrice(cheapest) : undefined;
    return {
      id: m.model,
      providers: m.providers,
      free: Math.max(0, m.capacity - m.inUse),
      promptNano: asks?.promptNanoPerToken ?? 0n,
      completionNano: asks?.completionNanoPerToken ?? 0n,
      audits: auditTotals(view.audits, (r) => r.model === m.model),
    };
  });
}
