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
 * `work`, or an AbortError once `signal` aborts first (`work` goes on: what it makes is its
 * owner's to keep). The listener goes when either ends.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new DOMException(`cancelled ${what}`, "AbortError"));
  return new Promise<T>((resolve, reject) => {
    const unlink = linkAbort(signal, () => reject(new DOMException(`cancelled ${what}`, "AbortError")));
    work.then(resolve, reject).finally(unlink);
  });
}
