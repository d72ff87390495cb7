/**
 * Calls `onAbort` when `signal` aborts, until the returned function is called. A signal outlives
 * the calls made with it (a pool's retries run on one request's signal; an app may pass one signal
 * to every call), so each call removes its own listener when it ends: none pile up, and Node never
 * warns of a listener leak.
 */
export function linkAbort(signal: AbortSignal | null | undefined, onAbort: () => void): () => void {
  if (!signal) return () => undefined;
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * A call whose signal is already aborted is asked of nobody: an abort listener added now would
 * never fire, and the call would be sent, answered and paid for. It rejects as `fetch` does.
 */
export function refuseIfAborted(signal: AbortSignal | null | undefined): void {
  if (signal?.aborted) throw abortedError();
}

/** What a call aborted before its request was sent rejects with, as `fetch` does. */
export function abortedError(): DOMException {
  return new DOMException("the call's signal was aborted before it was sent", "AbortError");
}

/**
 * As `linkAbort`, but a signal that has already aborted calls `onAbort` at once (a listener added
 * now would never fire).
 */
export function followAbort(signal: AbortSignal, onAbort: () => void): () => void {
  if (!signal.aborted) return linkAbort(signal, onAbort);
  onAbort();
  return () => undefined;
}

/**
 * `work`, or `error()` once `signal` aborts first (`work` goes on: what it makes is its owner's to
 * keep). Not `Promise.race` with a promise of the abort: each race would leave a reaction on that
 * promise holding what `work` resolved to, for as long as the signal lives. The listener goes when
 * either ends.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, error: () => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unlink = followAbort(signal, () => reject(error()));
    work.then(resolve, reject).finally(unlink);
  });
}

/** `work`, or an AbortError naming `what` was cancelled once `signal` aborts first. */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  return raceAbort(work, signal, () => new DOMException(`cancelled ${what}`, "AbortError"));
}
