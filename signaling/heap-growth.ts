import { setFlagsFromString } from "node:v8";

/**
 * Lets V8 grow this process's heap `percent` past what is live before its next full collection
 * (0: V8's own choice). A node's live heap is mostly its providers' sockets, and each message
 * renews a little of each socket's transport state, which survives two scavenges and is promoted;
 * with V8's own 1.15-1.6x a full collection (5-15 ms on this machine) came every ~5 s at 1,000
 * pairings/s and decided the pairing p99. V8 reads the flag each time it sets the next limit, so
 * setting it at start-up takes effect from the first full collection (NODE_OPTIONS cannot carry it).
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
