/**
 * Stop sequences, read the same way on both sides. A requester refuses an answer that streams one
 * (an engine that honours `stop` ends before it); a provider whose backend may not honour it cuts
 * the answer itself, holding back text that could be the start of one until it knows.
 */

/**
 * Where in `text`, streamed after `before`, the first stop sequence it completes starts (negative
 * when it started in `before`), and which; undefined when it completes none. Only the end of
 * `before` can be part of one: a sequence it held whole was found already.
 */
export function stopSequenceIn(
  stops: readonly string[] | undefined,
  before: string,
  text: string,
): { readonly stop: string; readonly at: number } | undefined {
  if (!stops || text === "") return undefined;
  let found: { stop: string; at: number } | undefined;
  for (const stop of stops) {
    const tail = stop.length > 1 ? before.slice(1 - stop.length) : "";
    const i = (tail + text).indexOf(stop);
    if (i >= 0 && (!found || i - tail.length < found.at)) found = { stop, at: i - tail.length };
  }
  return found;
}

/** Whether `text` ends with the start (not the whole) of a stop sequence: the next piece may finish it. */
export function endsInStopStart(stops: readonly string[] | undefined, text: string): boolean {
  if (!stops) return false;
  for (const stop of stops)
    for (let n = Math.min(stop.length - 1, text.length); n > 0; n--)
      if (text.endsWith(stop.slice(0, n))) return true;
  return false;
}
