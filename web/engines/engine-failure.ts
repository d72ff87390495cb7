import { EngineError } from "./engine";

/**
 * Whatever an engine threw while it ran a request, as an `EngineError` of the class a provider
 * tells a requester (protocol/engine-failures.ts): a lost GPU, memory run out, no model loaded, or
 * a failure not told apart. Its message keeps the engine's own words for the provider's page and
 * log; they never go to the requester (provider/serving/failure.ts).
 */
export function asEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const name = err instanceof Error ? err.name : "";
  const said = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").slice(0, 300);
  return new EngineError(reasonOf(name, said), `the engine failed: ${said}`, { cause: err });
}

function reasonOf(name: string, said: string): EngineError["reason"] {
  if (name === "DeviceLostError" || /device (was |is )?lost/i.test(said)) return "device-lost";
  if (/out of memory|\bOOM\b|allocation failed|cannot allocate/i.test(said)) return "out-of-memory";
  if (name === "ModelNotLoadedError" || /not loaded/i.test(said)) return "not-loaded";
  return "backend";
}
