/**
 * Signaling under load on loopback: 2,000 registered providers, then requesters pairing and
 * ending sessions, one at a time and 20 at once.
 *
 * Three processes besides the server's: the signaling server (as in production; its memory per
 * provider is read from its own /metrics), the providers (`signaling-providers.ts`: 2,000 provider
 * sockets, plus as many relay targets on the bare server), and this one (the requesters and the
 * baseline clients), so the providers' event loop is not the requesters'.
 *
 * A pairing is one round trip for the requester (request → server reserves a provider and sends
 * it the offer → grant); the provider's answer comes back to the server one round trip later and is
 * awaited in the background (a refusal or silence moves the requester on), so the server's own
 * offer → answer time is printed too. Baselines from a bare socket.io server in the same run: the
 * single request/ack round trip (the target, 3x), a bare two-hop relay rotating through
 * 2,000 targets as offers rotate through equal providers, the same relay to one warm target, and a
 * pairing's own messages with none of its logic (grant, then the offer and its answer, then the end
 * and the provider's notice: `pair`/`end` in bare-echo-server.ts), the floor any pairing server
 * pays on this machine.
 *
 * This VM's scheduling makes every wire hop bimodal (about 30 or 60 µs, switching every few
 * seconds), so the measures are interleaved in batches of 100 (the same noise falls on each), the
 * run is repeated `BENCH_ROUNDS` times, and the ratios are the median of the per-round ratios.
 * With redis-server on PATH, the same again against a node using Redis (directory and adapter).
 */
import { availableParallelism, loadavg } from "node:os";
import type { Socket } from "socket.io-client";
import { type RedisCluster, startRedisCluster } from "../tests/signaling/redis-cluster";
import { type RedisProcess, startRedis } from "../tests/signaling/redis-server";
import {
  barePairings,
  type Child,
  connect,
  LIMITS_OFF,
  pairings,
  pings,
  relays,
  row,
  serverMemory,
  serverPairing,
  spawnScript,
  spawnServer,
} from "./signaling-clients";
import { type FailoverResult, failoverRun } from "./signaling-failover";
import { SCALE_PROVIDERS, type ScaleResult, scaleRun } from "./signaling-scale";
import { fmt, percentile, printTable } from "./table";

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Per round: 1 client doing SEQUENTIAL of each measure, then CONCURRENT clients CONCURRENT_EACH each. */
const SEQUENTIAL = 1000;
const CONCURRENT = 20;
const CONCURRENT_EACH = 100;
/** And the same 20 clients as an open-loop stream: STREAM_RATE operations per second in all. */
const STREAM_RATE = 1000;
const STREAM_EACH = 50;
const BATCHES = 10;
/** BENCH_MODES=redis (say) runs only those modes' rows; BENCH_SCALE=0 skips the 10,000-provider runs. */
const MODES = (process.env.BENCH_MODES ?? "memory,redis,cluster").split(",");

/** One client back to back; 20 at once, back to back (saturated); 20 as a paced open-loop stream. */
const PHASES = [
  { id: "seq", clients: "1 client", requesters: "1 requester" },
  { id: "con", clients: `${CONCURRENT} clients`, requesters: `${CONCURRENT} requesters` },
  {
    id: "stream",
    clients: `${CONCURRENT} clients at ${STREAM_RATE}/s`,
    requesters: `${CONCURRENT} requesters at ${STREAM_RATE}/s`,
  },
] as const;
type Phase = (typeof PHASES)[number]["id"];

const KINDS = ["ack", "relay", "hot", "bare", "pairing"] as const;
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

/**
 * One client per socket runs `n` of a measure, back to back or (with `rate`, operations per second
 * in all) paced as an open-loop stream; batches rotate which measure goes first.
 */
async function batch(kind: Kind, clients: Clients, count: number, n: number, into: Samples, rate?: number) {
  const t0 = performance.now();
  const gapMs = rate ? (1000 * count) / rate : 0;
  const run = (i: number): Promise<number[]> => {
    const pace = rate ? { start: t0, gapMs, offsetMs: (gapMs * i) / count } : undefined;
    if (kind === "pairing") return pairings(clients.requesters[i]!, n, pace);
    if (kind === "bare") return barePairings(clients.bare[i]!, n, pace);
    if (kind === "ack") return pings(clients.bare[i]!, n, pace);
    return relays(clients.bare[i]!, n, kind === "hot" ? "relay-hot" : "relay", pace);
  };
  const lat = (await Promise.all(Array.from({ length: count }, (_, i) => run(i)))).flat();
  into[kind].seconds += (performance.now() - t0) / 1000;
  into[kind].lat.push(...lat);
}

async function interleaved(clients: Clients, count: number, each: number, into: Samples, rate?: number) {
  for (let b = 0; b < BATCHES; b++)
    for (let k = 0; k < KINDS.length; k++)
      await batch(KINDS[(b + k) % KINDS.length]!, clients, count, each / BATCHES, into, rate);
}

/** Providers registered on a signaling process, then ROUNDS rounds of interleaved measures. */
async function pairingRun(bare: Child, server: Child, sockets: Socket[], children: Child[]) {
  await new Promise((r) => setTimeout(r, 500));
  await server.collect();
  const before = await serverMemory(server.url);
  const providers = await spawnScript(
    "bench/signaling-providers.ts",
    { BENCH_PROVIDERS: String(PROVIDERS), SIGNALING_URL: server.url, BARE_URL: bare.url },
    "ready",
  );
  children.push(providers);
  await new Promise((r) => setTimeout(r, 1000));
  await server.collect();
  const after = await serverMemory(server.url);
  const clients: Clients = {
    requesters: await Promise.all(Array.from({ length: CONCURRENT }, () => connect(server.url))),
    bare: await Promise.all(Array.from({ length: CONCURRENT }, () => connect(bare.url))),
  };
  sockets.push(...clients.requesters, ...clients.bare);
  const warm = emptySamples();
  await interleaved(clients, 1, 300, warm);

  const pooled = Object.fromEntries(PHASES.map((p) => [p.id, emptySamples()])) as Record<Phase, Samples>;
  const rounds: Record<Phase, Record<Kind, number>>[] = [];
  let serverSeconds = 0;
  let serverCount = 0;
  let answerSeconds = 0;
  let answerCount = 0;
  const loadBefore = loadavg()[0]!;
  for (let r = 0; r < ROUNDS; r++) {
    const round = Object.fromEntries(PHASES.map((p) => [p.id, emptySamples()])) as Record<Phase, Samples>;
    const m0 = await serverPairing(server.url);
    await interleaved(clients, 1, SEQUENTIAL, round.seq);
    const m1 = await serverPairing(server.url);
    serverSeconds += m1.sum - m0.sum;
    serverCount += m1.count - m0.count;
    answerSeconds += m1.answerSum - m0.answerSum;
    answerCount += m1.answerCount - m0.answerCount;
    await interleaved(clients, CONCURRENT, CONCURRENT_EACH, round.con);
    await interleaved(clients, CONCURRENT, STREAM_EACH, round.stream, STREAM_RATE);
    const medians = (x: Samples) =>
      Object.fromEntries(KINDS.map((k) => [k, p50(x[k].lat)])) as Record<Kind, number>;
    rounds.push(
      Object.fromEntries(PHASES.map((p) => [p.id, medians(round[p.id])])) as Record<
        Phase,
        Record<Kind, number>
      >,
    );
    for (const p of PHASES)
      for (const k of KINDS) {
        pooled[p.id][k].lat.push(...round[p.id][k].lat);
        pooled[p.id][k].seconds += round[p.id][k].seconds;
      }
  }
  for (const s of clients.requesters.concat(clients.bare)) s.disconnect();
  await providers.stop();
  return {
    registerSeconds: providers.ready.registerSeconds as number,
    pooled,
    rounds,
    serverMs: (serverSeconds / serverCount) * 1000,
    answerMs: (answerSeconds / answerCount) * 1000,
    rssKB: (after.rss - before.rss) / PROVIDERS / 1024,
    heapKB: (after.heap - before.heap) / PROVIDERS / 1024,
    load: [loadBefore, loadavg()[0]!] as const,
  };
}

type Run = Awaited<ReturnType<typeof pairingRun>>;

/** Median over rounds of a per-round ratio of p50s, with its range. */
function ratio(run: Run, phase: Phase, num: Kind, den: Kind): string {
  const rs = run.rounds.map((r) => r[phase][num] / r[phase][den]).sort((a, b) => a - b);
  return `${fmt(percentile(rs, 50), 2)} (${fmt(rs[0]!, 2)}–${fmt(rs[rs.length - 1]!, 2)})`;
}

/** Issue 17's goals for the ratios (pairing p50 / bare ack p50), per mode and phase. */
const GOALS: Record<string, Partial<Record<Phase, string>>> = {
  memory: { seq: "<= 2" },
  redis: { seq: "<= 3", stream: "<= 3" },
  cluster: { seq: "<= 3", stream: "<= 3" },
};

export default async function bench(): Promise<void> {
  const sockets: Socket[] = [];
  const children: Child[] = [];
  let redis: RedisProcess | undefined;
  let cluster: RedisCluster | undefined;
  try {
    const bare = await spawnServer("bench/bare-echo-server.ts");
    children.push(bare);
    const runs: [string, Run][] = [];
    const scales: [string, ScaleResult][] = [];
    /** The pairing run on one node, then the large run on a fresh node of the same kind. */
    const both = async (label: string, env: Record<string, string>, redisUrls: string[]) => {
      if (!MODES.includes(label)) return;
      const server = await spawnServer("signaling/main.ts", { ...LIMITS_OFF, ...env });
      children.push(server);
      runs.push([label, await pairingRun(bare, server, sockets, children)]);
      await server.stop();
      if (process.env.BENCH_SCALE === "0") return;
      const fresh = await spawnServer("signaling/main.ts", { ...LIMITS_OFF, ...env });
      children.push(fresh);
      scales.push([label, await scaleRun(bare.url, fresh, redisUrls)]);
      await fresh.stop();
    };
    await both("memory", {}, []);
    // BENCH_REDIS=0 skips the Redis rows (they need redis-server on PATH anyway).
    redis = process.env.BENCH_REDIS === "0" ? undefined : await startRedis().catch(() => undefined);
    if (redis) await both("redis", { REDIS_URL: redis.url }, [redis.url]);
    // A three-master Redis Cluster (no replicas: they would only share the same two vCPUs), whose
    // nodes may miss the cluster bus for 15 s before being marked failed: on a loaded VM a starved
    // master would otherwise take the cluster down mid-run.
    cluster =
      redis && process.env.BENCH_CLUSTER !== "0"
        ? await startRedisCluster(3, 0, 15_000).catch(() => undefined)
        : undefined;
    // A cluster run that fails (a loaded machine once timed a registration out) loses only its rows.
    if (cluster)
      await both("cluster", { REDIS_URL: cluster.urls.join(",") }, cluster.urls).catch((err: unknown) =>
        console.error(`cluster rows skipped: ${err instanceof Error ? err.message : String(err)}`),
      );

    // Past one shard: a model on each of three masters (with replicas), and one master failed over.
    let failover: FailoverResult | undefined;
    if (cluster)
      failover = await failoverRun(bare.url, LIMITS_OFF).catch((err: unknown) => {
        console.error(`failover rows skipped: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      });

    const rows: ReturnType<typeof row>[] = [];
    for (const [label, run] of runs) {
      for (const p of PHASES) {
        const x = run.pooled[p.id];
        rows.push(
          row(`${label}: bare ack, 1 round trip, ${p.clients}`, x.ack.lat, x.ack.seconds),
          row(`${label}: bare relay to 1 warm target, ${p.clients}`, x.hot.lat, x.hot.seconds),
          row(
            `${label}: bare relay through ${PROVIDERS} targets, ${p.clients}`,
            x.relay.lat,
            x.relay.seconds,
          ),
          row(`${label}: bare pairing messages, no logic, ${p.clients}`, x.bare.lat, x.bare.seconds),
          row(`${label}: pairing, ${p.requesters}`, x.pairing.lat, x.pairing.seconds),
        );
      }
    }
    // BENCH_MODES naming no single node's mode (`none`) leaves only the failover rows.
    if (runs.length === 0) {
      if (failover) printFailover(failover);
      return;
    }
    const first = runs[0]![1];
    printTable(
      `signaling: ${PROVIDERS} providers (registered in ${fmt(first.registerSeconds, 1)} s), one model, capacity 4 each; pairing = request → reserve + offer → grant, 1 round trip (the answer follows in the background); ${ROUNDS} rounds, measures interleaved in batches`,
      rows,
    );
    const targets: Record<string, string>[] = [];
    for (const [label, run] of runs) {
      for (const { id: phase, requesters: who } of PHASES) {
        targets.push(
          {
            measure: `${label}: pairing / bare ack, ${who}`,
            "median of rounds (range)": ratio(run, phase, "pairing", "ack"),
            target: GOALS[label]?.[phase] ?? "",
          },
          {
            measure: `${label}: bare pairing messages / bare ack (the floor of pairing / ack), ${who}`,
            "median of rounds (range)": ratio(run, phase, "bare", "ack"),
            target: "",
          },
          {
            measure: `${label}: pairing / bare pairing messages (the server's own work), ${who}`,
            "median of rounds (range)": ratio(run, phase, "pairing", "bare"),
            target: "",
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
      const stream = [...run.pooled.stream.pairing.lat].sort((a, b) => a - b);
      const streamAck = [...run.pooled.stream.ack.lat].sort((a, b) => a - b);
      targets.push(
        {
          measure: `${label}: pairing p99 ms (bare ack p99), ${PHASES[2].requesters}`,
          "median of rounds (range)": `${fmt(percentile(stream, 99), 2)} (${fmt(percentile(streamAck, 99), 2)})`,
          target: label === "memory" ? "" : "<= 10",
        },
        {
          // The p99 rows read the machine as much as the server: above one process per core,
          // the others' work lands in the tail.
          measure: `${label}: machine load (1-minute average) over the rounds, ${availableParallelism()} cores`,
          "median of rounds (range)": `${fmt(run.load[0], 2)} → ${fmt(run.load[1], 2)}`,
          target: "",
        },
        {
          measure: `${label}: server-side mean request → grant ms, 1 requester`,
          "median of rounds (range)": fmt(run.serverMs, 3),
          target: "",
        },
        {
          measure: `${label}: server-side mean offer → provider's answer ms, 1 requester`,
          "median of rounds (range)": fmt(run.answerMs, 3),
          target: "",
        },
        {
          measure: `${label}: server RSS per provider, KB (${PROVIDERS} providers)`,
          "median of rounds (range)": fmt(run.rssKB, 1),
          target: "< 50",
        },
        {
          measure: `${label}: server heap per provider, KB (${PROVIDERS} providers)`,
          "median of rounds (range)": fmt(run.heapKB, 1),
          target: "",
        },
      );
    }
    printTable("signaling: against the targets", targets);

    const large: Record<string, string>[] = [];
    for (const [label, x] of scales) {
      const redisRows =
        label === "memory"
          ? []
          : [
              {
                measure: `${label}: Redis used_memory per provider, KB`,
                value: fmt(x.redisKB, 2),
                target: "",
              },
              {
                measure: `${label}: node heap + Redis per provider, KB`,
                value: fmt(x.heapKB + x.redisKB, 2),
                target: "<= 20",
              },
              {
                measure: `${label}: Redis commands per pairing (grant or refusal)`,
                value: fmt(x.pairCommands, 3),
                target: "<= 1",
              },
              {
                measure: `${label}: more Redis commands per request, leasing capacity`,
                value: fmt(x.leaseCommands, 3),
                target: "",
              },
              {
                measure: `${label}: Redis commands per session end`,
                value: fmt(x.endCommands, 3),
                target: "<= 1",
              },
              {
                measure: `${label}: Redis time per script call (every script run; mostly the market view when pairings run none), µs`,
                value: fmt(x.scriptUsec, 1),
                target: "",
              },
              {
                measure: `${label}: Redis script time per request (grant or refusal, every script), µs`,
                value: fmt(x.scriptUsecPerRequest, 1),
                target: "",
              },
            ];
      large.push(
        {
          measure: `${label}: registration of ${SCALE_PROVIDERS} providers, s`,
          value: fmt(x.registerSeconds, 1),
          target: "",
        },
        { measure: `${label}: node heap per provider, KB`, value: fmt(x.heapKB, 2), target: "" },
        { measure: `${label}: node RSS per provider, KB`, value: fmt(x.rssKB, 2), target: "" },
        ...redisRows,
        {
          measure: `${label}: p50 ms: pairing · NO_MODEL · PRICE_TOO_LOW · bare ack, 1 requester`,
          value: [x.p50.pairing, x.p50.noModel, x.p50.priceTooLow, x.p50.ack]
            .map((n) => fmt(n, 3))
            .join(" · "),
          target: "",
        },
        {
          measure: `${label}: pairing / bare ack (p50)`,
          value: fmt(x.p50.pairing / x.p50.ack, 2),
          target: "",
        },
        {
          measure: `${label}: NO_MODEL refusal / pairing (p50)`,
          value: fmt(x.p50.noModel / x.p50.pairing, 2),
          target: "<= 1",
        },
        {
          measure: `${label}: PRICE_TOO_LOW refusal / pairing (p50)`,
          value: fmt(x.p50.priceTooLow / x.p50.pairing, 2),
          target: "<= 1",
        },
        {
          measure: `${label}: server-side mean ms, request → grant · request → refusal`,
          value: `${fmt(x.serverGrantMs, 3)} · ${fmt(x.serverRefusalMs, 3)}`,
          target: "",
        },
        {
          measure: `${label}: server-side refusal / grant`,
          value: fmt(x.serverRefusalMs / x.serverGrantMs, 2),
          target: "<= 1",
        },
      );
    }
    printTable(`signaling: ${SCALE_PROVIDERS} providers on one node (one model, capacity 4 each)`, large);
    if (failover) printFailover(failover);
  } finally {
    for (const s of sockets) s.disconnect();
    await Promise.all(children.map((c) => c.stop()));
    await redis?.stop();
    await cluster?.stop();
  }
}

function printFailover(f: FailoverResult): void {
  const ratio = (x: { pairing: number; ack: number }) =>
    `${fmt(x.pairing / x.ack, 2)} (${fmt(x.pairing, 3)} / ${fmt(x.ack, 3)} ms)`;
  // The same path before and after, if the moved shard's pairings still send Redis nothing.
  const commands = (x: { redisPerPairing: number }) => fmt(x.redisPerPairing, 3);
  printTable(
    `signaling: Redis Cluster, 3 masters with a replica each; ${f.models} models on ${f.masters} masters, 10 providers each, 1 requester pairing round the models`,
    [
      { measure: "pairing across masters / bare ack (p50)", value: ratio(f.before), target: "<= 3" },
      { measure: "Redis commands per pairing (leases and ends too)", value: commands(f.before), target: "" },
      { measure: "CLUSTER FAILOVER of one model's master, s", value: fmt(f.failoverSeconds, 2), target: "" },
      {
        measure: "then until that model pairs again, s (requests refused meanwhile)",
        value: `${fmt(f.recoverySeconds, 2)} (${f.failedMeanwhile})`,
        target: "",
      },
      {
        measure: "after the failover: pairing across masters / bare ack (p50)",
        value: ratio(f.after),
        target: "<= 3",
      },
      {
        measure: "after the failover: Redis commands per pairing (leases and ends too)",
        value: commands(f.after),
        target: "",
      },
    ],
  );
}
