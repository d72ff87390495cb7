import type { ModelSupport } from "../../protocol/features";
import { EngineError } from "../../web/engines/engine";
import { sizeText } from "../../web/size-text";

/** Small rules of the provider page, pure so they are tested without a browser (addresses: `payout-address.ts`). */

/** Parses a price in nanoTON per token (a whole number); returns the problem as text otherwise. */
export function parseNanoTon(text: string): bigint | string {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) return "a price is a whole number of nanoTON per token (1 TON = 10⁹ nanoTON)";
  return BigInt(t);
}

/** A message a provider can act on; never a stack trace, never a prompt. */
export function describeError(err: unknown): string {
  if (err instanceof EngineError) return err.message;
  if (err instanceof Error && err.name === "SignalingError")
    return `the signaling server refused: ${err.message}`;
  if (err instanceof Error) return err.message.slice(0, 300);
  return "something went wrong";
}

/**
 * What the page declares for its model: with "Serve as an audit reference" on, the engine loads
 * the forcing processor, so a model that scores tokens also scores them by teacher forcing
 * (`forced_scoring`, which auditors ask for first).
 */
export function servedSupport(
  support: ModelSupport | undefined,
  reference: boolean,
): ModelSupport | undefined {
  if (!reference || !support?.features?.includes("scoring")) return support;
  return { ...support, features: [...support.features, "forced_scoring"] };
}

/**
 * A download's time left, in words, from how far it got (0 to 1) in `elapsedMs`; undefined until
 * there is enough to go on (2% and 2 s), so the first guess is not wild.
 */
export function timeLeft(progress: number, elapsedMs: number): string | undefined {
  if (!(progress >= 0.02 && progress < 1) || elapsedMs < 2000) return undefined;
  const s = (elapsedMs * (1 - progress)) / progress / 1000;
  if (s < 55) return `about ${Math.max(5, Math.ceil(s / 5) * 5)} s left`;
  if (s < 90 * 60) return `about ${Math.round(s / 60)} min left`;
  return `about ${(s / 3600).toFixed(1)} h left`;
}

/**
 * How much of the weights has come, from WebLLM's progress text ("Fetching param cache[3/20]:
 * 120MB fetched. 15% completed, …"): "120 MB of about 800 MB". Undefined for any other text (the
 * cache being read, the library compiling): only a download has a size to tell.
 */
export function downloadedText(text: string): string | undefined {
  const m = /(\d+)MB fetched\. (\d+)% completed/.exec(text);
  if (!m) return undefined;
  const [mb, pct] = [Number(m[1]), Number(m[2])];
  return pct > 0
    ? `${sizeText(mb)} of about ${sizeText(Math.round((mb * 100) / pct))}`
    : `${sizeText(mb)} so far`;
}
