import { DirectorySnapshot, parseWith } from "../../protocol";

/** One model of the live directory, as the model picker shows it. Prices are effective nanoTON per token. */
export interface ModelChoice {
  readonly id: string;
  readonly providers: number;
  readonly free: number;
  readonly promptNano: bigint;
  readonly completionNano: bigint;
}

/** Reads `GET /api/models` from the signaling server (CORS-open, so the widget can read it from any page). */
export async function fetchDirectory(signalingUrl: string, signal?: AbortSignal): Promise<ModelChoice[]> {
  const res = await fetch(new URL("/api/models", signalingUrl), { signal, cache: "no-store" });
  if (!res.ok) throw new Error(`the directory answered ${res.status}`);
  const snapshot = parseWith(DirectorySnapshot, await res.json(), "directory");
  return snapshot.models.map((m) => {
    const cheapest = m.prices[0]?.price;
    const eff = (bps: number) => (cheapest ? (cheapest.nanoPerToken * BigInt(bps)) / 10_000n : 0n);
    return {
      id: m.model,
      providers: m.providers,
      free: Math.max(0, m.capacity - m.inUse),
      promptNano: eff(cheapest?.promptMultiplierBps ?? 0),
      completionNano: eff(cheapest?.completionMultiplierBps ?? 0),
    };
  });
}
