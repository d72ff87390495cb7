import type { ServerResponse } from "node:http";

/**
 * How often a streamed answer still waiting for its first event says it is alive, and how long a
 * refusal may take to keep its own status: a reverse proxy cuts a response that sends nothing for
 * its read timeout (nginx's `proxy_read_timeout` is 60 s), and a big model's first token can take
 * longer. 15 s is a quarter of nginx's default.
 */
export const KEEP_ALIVE_MS = 15_000;

/**
 * The shortest keep-alive interval taken: below it (0, negative, NaN) the timer would write
 * keep-alives in a tight loop.
 */
export const MIN_KEEP_ALIVE_MS = 100;

/** The longest: Node runs a timer set beyond it (Infinity too) after 1 ms, a tight loop again. */
export const MAX_KEEP_ALIVE_MS = 2 ** 31 - 1;

/** A keep-alive interval from `MIN_KEEP_ALIVE_MS` to `MAX_KEEP_ALIVE_MS`, or a KeepAliveIntervalError. */
export class KeepAliveIntervalError extends Error {
  override readonly name = "KeepAliveIntervalError";
  constructor(readonly keepAliveMs: number) {
    super(
      `keepAliveMs must be a number of milliseconds from ${MIN_KEEP_ALIVE_MS} to ${MAX_KEEP_ALIVE_MS}: got ${keepAliveMs}`,
    );
  }
}

/** `everyMs` if it is a keep-alive interval a timer can keep, else a KeepAliveIntervalError. */
export function checkKeepAliveMs(everyMs: number): number {
  if (!(everyMs >= MIN_KEEP_ALIVE_MS && everyMs <= MAX_KEEP_ALIVE_MS))
    throw new KeepAliveIntervalError(everyMs);
  return everyMs;
}

/** An SSE comment: every SSE client skips it, a proxy sees bytes. */
export const KEEP_ALIVE = ": keep-alive\n\n";

/** Server-sent events: both streaming routes answer with them. */
export function startEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    // nginx buffers a proxied response unless told not to: the keep-alives must reach the client.
    "x-accel-buffering": "no",
  });
}

/**
 * `first` (a streamed answer's first event), while the response says it is alive: when it has not
 * come within `everyMs`, the stream opens (`open`, a 200 with its headers and any opening events)
 * and a keep-alive comment goes out, then one more every `everyMs` until it comes. A refusal
 * quicker than `everyMs` is still a status of its own; one after it, an `error` event in the open
 * stream (the caller's to write: `res.headersSent` tells which).
 */
export async function keepAliveUntil<T>(
  res: ServerResponse,
  first: Promise<T>,
  everyMs: number,
  open: () => void,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    if (!res.headersSent) open();
    res.write(KEEP_ALIVE);
    timer = setTimeout(tick, everyMs);
  };
  timer = setTimeout(tick, everyMs);
  try {
    return await first;
  } finally {
    clearTimeout(timer);
  }
}
