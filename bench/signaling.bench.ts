/**
 * Signaling under load on loopback: 2,000 registered providers, then requesters pairing and
 * ending sessions, one at a time and 20 at once.
 *
 * Three processes besides the server's: the signaling server (as in production; its memory per
 * provider is read from its own /metrics), the providers (`signaling-providers.ts`: 2,000 provider
 * sockets, plus as many relay targets on the bare server), and this one (the requesters and the
 * baseline clients), so the providers' event loop is not the requesters'.
 *
 * A pairing is two round trips on the wire (requester → server → provider → server → requester:
 * the provider must accept the offer before the requester is granted), so it is measured against
 * baselines from a bare socket.io server in the same run: the single request/ack round trip (the
 * issue's target, 3x), a bare two-hop relay of the same shape rotating through 2,000 targets as
 * pairing rotates through equal providers, and the same relay always to one warm target.
 *
 * This VM's scheduling makes every wire hop bimodal (about 30 or 60 µs, switching every few
 * seconds), so the measures are interleaved in batches of 100 (the same noise falls on each), the
 * run is repeated `BENCH_ROUNDS` times, and the ratios are the median of the per-round ratios.
 * With redis-server on PATH, the same again against a node using Redis (directory and adapter).
 */
import type { Socket } from "socket.io-client";
import { type RedisProcess, startRedis } from "../tests/signaling/redis-server";
import {
  type Child,
  connect,
  pairings,
  pings,
  relays,
  row,
  serverMemory,
  serverPairing,
  spawnScript,
  spawnServer,
} from "./signaling-clients";
import { fmt, percentile, printTable } from "./table";

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Per round: 1 client doing SEQUENTIAL of each measure, then CONCURRENT clients CONCURRENT_EACH each. */
const SEQUENTIAL = 1000;
const CONCURRENT = 20;
const CONCURRENT_EACH = 100;
const BATCHES = 10;
const unlimited = "1000000000";
const LIMITS_OFF = Object.fromEntries(
  [
    "IP_CONNECTIONS_PER_MINUTE",
    "IP_CONNECTION_BURST",
    "IP_REQUESTS_PER_SECOND",
    "IP_REQUEST_BURST",
    "REQUESTS_PER_SECOND",
    "REQUEST_BURST",
    "EVENTS_PER_SECOND",
    "EVENT_BURST",
  ].map((k) => [k, unlimited]),
);

const KINDS = ["ack", "relay", "hot", "pairing"] as const;
type Kind = (typeof KINDS)[number];
/** Latencies (ms) and time spent, per measure. */
type Samples = Record<Kind, { lat: number[]; seconds: number }>;
const emptySamples = (): Samples =>
  Object.fromEntries(KINDS.map((k) => [k, { lat: [], seconds: 0 }])) as unknown as Samples;

const p50 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

interface Clients {
  requesters: Socket[];
  bare: Socket[];
}

/** One client per socket runs `n` of a measure; batches rotate which measure goes first. */
async function batch(kind: Kind, clients: Clients, count: number, n: number, into: Samples) {
  const t0 = performance.now();
  const run = (i: number): Promise<number[]> => {
    if (kind === "pairing") return pairings(clients.requesters[i]!, n);
    if (kind === "ack") return pings(clients.bare[i]!, n);
    return relays(clients.bare[i]!, n, kind === "hot" ? "relay-hot" : "relay");
  };
  const lat = (await Promise.all(Array.from({ length: count }, (_, i) => run(i)))).flat();
  into[kind].seconds += (performance.now() - t0) / 1000;
  into[kind].lat.push(...lat);
}

async function interleaved(clients: Clients, count: number, each: number, into: Samples) {
  for (let b = 0; b < BATCHES; b++)
    for (let k = 0; k < KINDS.length; k++)
      await batch(KINDS[(b + k) % KINDS.length]!, clients, count, each / BATCHES, into);
}

/** Providers registered on a signaling process, then ROUNDS rounds of interleaved measures. */
async function pairingRun(bare: Child, server: Child, sockets: Socket[], children: Child[]) {
  await new Promise((r) => setTimeout(r, 500));
  const before = await serverMemory(server.url);
  const providers = await spawnScript(
    "bench/signaling-providers.ts",
    { BENCH_PROVIDERS: String(PROVIDERS), SIGNALING_URL: server.url, BARE_URL: bare.url },
    "ready",
  );
  children.push(providers);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await serverMemory(server.url);
  const clients: Clients = {
    requesters: await Promise.all(Array.from({ length: CONCURRENT }, () => connect(server.url))),
    bare: await Promise.all(Array.from({ length: CONCURRENT }, () => connect(bare.url))),
  };
  sockets.push(...clients.requesters, ...clients.bare);
  const warm = emptySamples();
  await interleaved(clients, 1, 300, warm);

  const seq = emptySamples();
  const con = emptySamples();
  const rounds: { seq: Record<Kind, number>; con: Record<Kind, number> }[] = [];
  let serverSeconds = 0;
  let serverCount = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const s = emptySamples();
    const c = emptySamples();
    const m0 = await serverPairing(server.url);
    await interleaved(clients, 1, SEQUENTIAL, s);
    const m1 = await serverPairing(server.url);
    serverSeconds += m1.sum - m0.sum;
    serverCount += m1.count - m0.count;
    await interleaved(clients, CONCURRENT, CONCURRENT_EACH, c);
    const medians = (x: Samples) =>
      Object.fromEntries(KINDS.map((k) => [k, p50(x[k].lat)])) as Record<Kind, number>;
    rounds.push({ seq: medians(s), con: medians(c) });
    for (const k of KINDS) {
      seq[k].lat.push(...s[k].lat);
      seq[k].seconds += s[k].seconds;
      con[k].lat.push(...c[k].lat);
      con[k].seconds += c[k].seconds;
    }
  }
  for (const s of clients.requesters.concat(clients.bare)) s.disconnect();
  await providers.stop();
  return {
    registerSeconds: providers.ready.registerSeconds as number,
    seq,
    con,
    rounds,
    serverMs: (serverSeconds / serverCount) * 1000,
    rssKB: (after.rss - before.rss) / PROVIDERS / 1024,
    heapKB: (after.heap - before.heap) / PROVIDERS / 1024,
  };
}

type Run = Awaited<ReturnType<typeof pairingRun>>;

/** Median over rounds of a per-round ratio of p50s, with its range. */
function ratio(run: Run, phase: "seq" | "con", num: Kind, den: Kind): string {
  const rs = run.rounds.map((r) => r[phase][num] / r[phase][den]).sort((a, b) => a - b);
  return `${fmt(percentile(rs, 50), 2)} (${fmt(rs[0]!, 2)}–${fmt(rs[rs.length - 1]!, 2)})`;
}

export default async function bench(): Promise<void> {
  const sockets: Socket[] = [];
  const children: Child[] = [];
  let redis: RedisProcess | undefined;
  try {
    const bare = await spawnServer("bench/bare-echo-server.ts");
    children.push(bare);
    const runs: [string, Run][] = [];
    const memoryServer = await spawnServer("signaling/main.ts", LIMITS_OFF);
    children.push(memoryServer);
    runs.push(["memory", await pairingRun(bare, memoryServer, sockets, children)]);
    await memoryServer.stop();
    // BENCH_REDIS=0 skips the Redis rows (they need redis-server on PATH anyway).
    redis = process.env.BENCH_REDIS === "0" ? undefined : await startRedis().catch(() => undefined);
    if (redis) {
      const redisServer = await spawnServer("signaling/main.ts", { ...LIMITS_OFF, REDIS_URL: redis.url });
      children.push(redisServer);
      runs.push(["redis", await pairingRun(bare, redisServer, sockets, children)]);
    }

    const rows: ReturnType<typeof row>[] = [];
    for (const [label, run] of runs) {
      for (const [phase, n] of [
        ["seq", 1],
        ["con", CONCURRENT],
      ] as const) {
        const x = run[phase];
        const who = n === 1 ? "1 client" : `${n} clients`;
        rows.push(
          row(`${label}: bare ack, 1 round trip, ${who}`, x.ack.lat, x.ack.seconds),
          row(`${label}: bare relay to 1 warm target, ${who}`, x.hot.lat, x.hot.seconds),
          row(`${label}: bare relay through ${PROVIDERS} targets, ${who}`, x.relay.lat, x.relay.seconds),
          row(
            `${label}: pairing, ${n === 1 ? "1 requester" : `${n} requesters`}`,
            x.pairing.lat,
            x.pairing.seconds,
          ),
        );
      }
    }
    const first = runs[0]![1];
    printTable(
      `signaling: ${PROVIDERS} providers (registered in ${fmt(first.registerSeconds, 1)} s), one model, capacity 4 each; pairing = request → offer → accept → grant, 2 round trips; ${ROUNDS} rounds, measures interleaved in batches`,
      rows,
    );
    const targets: Record<string, string>[] = [];
    for (const [label, run] of runs) {
      for (const [phase, who] of [
        ["seq", "1 requester"],
        ["con", `${CONCURRENT} requesters`],
      ] as const) {
        targets.push(
          {
            measure: `${label}: pairing / bare ack, ${who}`,
            "median of rounds (range)": ratio(run, phase, "pairing", "ack"),
            target: "<= 3",
          },
          {
            measure: `${label}: pairing / bare relay through ${PROVIDERS}, ${who}`,
            "median of rounds (range)": ratio(run, phase, "pairing", "relay"),
            target: "",
          },
          {
            measure: `${label}: bare relay through ${PROVIDERS} / bare ack, ${who}`,
            "median of rounds (range)": ratio(run, phase, "relay", "ack"),
            target: "",
          },
          {
            measure: `${label}: bare relay to 1 warm target / bare ack, ${who}`,
            "median of rounds (range)": ratio(run, phase, "hot", "ack"),
            target: "",
          },
        );
      }
      targets.push(
        {
          measure: `${label}: server-side mean pairing ms, 1 requester`,
          "median of rounds (range)": fmt(run.serverMs, 3),
          target: "",
        },
        {
          measure: `${label}: server RSS per provider, KB`,
          "median of rounds (range)": fmt(run.rssKB, 1),
          target: "< 50",
        },
        {
          measure: `${label}: server heap per provider, KB`,
          "median of rounds (range)": fmt(run.heapKB, 1),
          target: "",
        },
      );
    }
    printTable("signaling: against the targets", targets);
  } finally {
    for (const s of sockets) s.disconnect();
    await Promise.all(children.map((c) => c.stop()));
    await redis?.stop();
  }
}
