/**
 * The signaling bench's large run: `SCALE_PROVIDERS` (10,000) providers registered on one node, then
 * the node's memory per provider (its heap and RSS, and Redis's `used_memory`), and what a refusal
 * costs next to a pairing there: one requester, interleaved batches of pairings, NO_MODEL and
 * PRICE_TOO_LOW refusals and bare acks (the baseline), with the server's own request → answer
 * times and its Redis commands per pairing and per session end.
 */
import { createClient } from "redis";
import type { Socket } from "socket.io-client";
import {
  type Child,
  connect,
  metric,
  pairings,
  pings,
  refusals,
  serverMemory,
  spawnScript,
} from "./signaling-clients";
import { percentile } from "./table";

export const SCALE_PROVIDERS = Number(process.env.BENCH_SCALE_PROVIDERS ?? 10_000);
const BATCHES = 10;
const EACH = 50;

export interface ScaleResult {
  registerSeconds: number;
  heapKB: number;
  rssKB: number;
  /** Redis `used_memory` per provider (summed over a cluster's masters), when there is Redis. */
  redisKB: number;
  p50: { pairing: number; noModel: number; priceTooLow: number; ack: number };
  /** Server-side mean ms, request → grant and request → refusal. */
  serverGrantMs: number;
  serverRefusalMs: number;
  /** Redis commands per pairing (grants and refusals alike) and per session end. */
  pairCommands: number;
  endCommands: number;
  /** Lease top-ups and give-backs outside the pairings' own command (issue 17's leases). */
  leaseCommands: number;
  /**
   * Redis's own time per script call and per request, µs: every script run while pairing (PAIR,
   * CLAIM, CLOSE, the leases' scripts and the market view's MARKET; heartbeats do not run here).
   * With in-node sessions a pairing runs none, so the per-call mean is mostly MARKET's.
   */
  scriptUsec: number;
  scriptUsecPerRequest: number;
}

/** Sums a number read from each node's INFO `section`. */
async function redisInfo(
  urls: readonly string[],
  section: string,
  read: (info: string) => number,
): Promise<number> {
  const values = await Promise.all(
    urls.map(async (url) => {
      const client = createClient({ url });
      await client.connect();
      try {
        return read(await client.info(section));
      } finally {
        await client.close();
      }
    }),
  );
  return values.reduce((a, b) => a + b, 0);
}

const usedMemory = (urls: readonly string[]) =>
  redisInfo(urls, "memory", (i) => Number(/^used_memory:(\d+)/m.exec(i)?.[1] ?? Number.NaN));

/** Calls and microseconds Redis spent in scripts (EVALSHA and EVAL), summed over nodes. */
async function scriptStats(urls: readonly string[]): Promise<{ calls: number; usec: number }> {
  const read = (field: "calls" | "usec") => (info: string) =>
    [...info.matchAll(new RegExp(`^cmdstat_(?:evalsha|eval):.*?\\b${field}=(\\d+)`, "gm"))].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
  return {
    calls: await redisInfo(urls, "commandstats", read("calls")),
    usec: await redisInfo(urls, "commandstats", read("usec")),
  };
}

export async function scaleRun(
  bareUrl: string,
  server: Child,
  redisUrls: readonly string[],
): Promise<ScaleResult> {
  await new Promise((r) => setTimeout(r, 500));
  await server.collect();
  const before = await serverMemory(server.url);
  const redisBefore = redisUrls.length ? await usedMemory(redisUrls) : 0;
  const providers = await spawnScript(
    "bench/signaling-providers.ts",
    { BENCH_PROVIDERS: String(SCALE_PROVIDERS), SIGNALING_URL: server.url, BARE_URL: "" },
    "ready",
  );
  const sockets: Socket[] = [];
  try {
    // Heap in use includes garbage not yet collected (registration and the feed's reads make
    // plenty, and swung this row by 5 KB between runs of the same code): each sample follows a
    // forced collection, and the smallest of 3 is what the providers hold.
    await new Promise((r) => setTimeout(r, 2000));
    const samples: { rss: number; heap: number }[] = [];
    for (let i = 0; i < 3; i++) {
      await server.collect();
      samples.push(await serverMemory(server.url));
    }
    const after = {
      rss: Math.min(...samples.map((x) => x.rss)),
      heap: Math.min(...samples.map((x) => x.heap)),
    };
    const redisAfter = redisUrls.length ? await usedMemory(redisUrls) : 0;
    const requester = await connect(server.url);
    const bare = await connect(bareUrl);
    sockets.push(requester, bare);
    await pairings(requester, 100);
    await refusals(requester, 100, "NO_MODEL");
    await refusals(requester, 100, "PRICE_TOO_LOW");

    const read = async () => ({
      grantSum: await metric(server.url, "silk_pairing_seconds_sum"),
      grants: await metric(server.url, "silk_pairing_seconds_count"),
      refusalSum: await metric(server.url, "silk_refusal_seconds_sum"),
      refused: await metric(server.url, "silk_refusal_seconds_count"),
      pair: await metric(server.url, 'silk_redis_commands_total{op="pair"}'),
      end: await metric(server.url, 'silk_redis_commands_total{op="end"}'),
      lease: await metric(server.url, 'silk_redis_commands_total{op="lease"}'),
    });
    const m0 = await read();
    const s0 = redisUrls.length ? await scriptStats(redisUrls) : { calls: 0, usec: 0 };
    const lat = {
      pairing: [] as number[],
      noModel: [] as number[],
      priceTooLow: [] as number[],
      ack: [] as number[],
    };
    const kinds = [
      async () => lat.pairing.push(...(await pairings(requester, EACH))),
      async () => lat.noModel.push(...(await refusals(requester, EACH, "NO_MODEL"))),
      async () => lat.priceTooLow.push(...(await refusals(requester, EACH, "PRICE_TOO_LOW"))),
      async () => lat.ack.push(...(await pings(bare, EACH))),
    ];
    for (let b = 0; b < BATCHES; b++)
      for (let k = 0; k < kinds.length; k++) await kinds[(b + k) % kinds.length]!();
    const m1 = await read();
    const s1 = redisUrls.length ? await scriptStats(redisUrls) : { calls: 0, usec: 0 };
    const p50 = (xs: number[]) =>
      percentile(
        [...xs].sort((x, y) => x - y),
        50,
      );
    const requests = m1.grants - m0.grants + (m1.refused - m0.refused);
    return {
      registerSeconds: providers.ready.registerSeconds as number,
      heapKB: (after.heap - before.heap) / SCALE_PROVIDERS / 1024,
      rssKB: (after.rss - before.rss) / SCALE_PROVIDERS / 1024,
      redisKB: (redisAfter - redisBefore) / SCALE_PROVIDERS / 1024,
      p50: {
        pairing: p50(lat.pairing),
        noModel: p50(lat.noModel),
        priceTooLow: p50(lat.priceTooLow),
        ack: p50(lat.ack),
      },
      serverGrantMs: ((m1.grantSum - m0.grantSum) / (m1.grants - m0.grants)) * 1000,
      serverRefusalMs: ((m1.refusalSum - m0.refusalSum) / (m1.refused - m0.refused)) * 1000,
      pairCommands: (m1.pair - m0.pair) / requests,
      endCommands: (m1.end - m0.end) / (m1.grants - m0.grants),
      leaseCommands: (m1.lease - m0.lease) / requests,
      scriptUsec: (s1.usec - s0.usec) / (s1.calls - s0.calls),
      scriptUsecPerRequest: (s1.usec - s0.usec) / requests,
    };
  } finally {
    for (const s of sockets) s.disconnect();
    await providers.stop();
  }
}
