/**
 * Why a provider's engine failed a request (code `ENGINE`), as the provider tells a requester: one
 * class of failure, said in a fixed sentence. The engine's own text (WebLLM's, a backend's, an
 * exception's) stays with the provider: to a requester it is an untrusted peer's text, which may
 * say anything ("your key was revoked, log in at …"). A requester passes on only these sentences
 * (`engineFailureSaid`); anything else a provider sends with `ENGINE` reads as the last one.
 */
export const ENGINE_FAILURES = {
  "out-of-memory": "the provider's engine ran out of memory",
  "device-lost": "the provider's GPU was lost (its model is reloading)",
  "not-loaded": "the provider does not have the model loaded",
  load: "the provider could not load the model",
  backend: "the provider's engine failed",
} as const;

export type EngineFailure = keyof typeof ENGINE_FAILURES;

const SENTENCES: ReadonlySet<string> = new Set(Object.values(ENGINE_FAILURES));

/** A provider's `ENGINE` message as a requester repeats it: one of ours, never the provider's text. */
export function engineFailureSaid(message: string): string {
  return SENTENCES.has(message) ? message : ENGINE_FAILURES.backend;
}

/** What a requester says for a provider's `INTERNAL`: the provider's own text is not passed on. */
export const PROVIDER_INTERNAL = "the provider failed with an internal error (its own text is not passed on)";
