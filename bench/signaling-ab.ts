/**
 * An interleaved A/B of two checkouts' signaling servers (not part of `npm run bench`): each tree
 * gets its own node (and, in Redis mode, its own redis-server) with `AB_PROVIDERS` providers
 * registered from that tree's own `bench/signaling-providers.ts`; one requester process (this one)
 * then alternates, in every round, batches of pairings on each node and bare acks (and bare
 * pairing messages) on one bare socket.io server, so the machine's mood falls on all of them.
 *
 *   AB_TREES=/work/wt-old,/work/wt-new AB_MODE=redis AB_PHASE=stream AB_ROUNDS=20 \
 *     npx tsx bench/signaling-ab.ts
 *
 * AB_PHASE=stream: 20 requesters as an open-loop stream at 1,000 pairings/s (the bench's p99 row);
 * AB_PHASE=seq: 1 requester back to back (the bench's ratio row). AB_NODE_FLAGS adds node flags
 * to the servers (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`; `a|b` gives tree 0 flags a, tree 1 flags b), AB_STDOUT_DIR keeps their output
 * (e.g. with `--trace-gc-nvp`). AB_SATURATE=N has each requester pair N times back to back on every
 * node before each round, as the bench's saturated phase does just before its stream. Prints, per round, each measure's p50 and p99, then the per-round
 * comparison of the last tree against the first, and each node's and its Redis's CPU per pairing.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Socket } from "socket.io-client";
import { type RedisProcess, startRedis } from "../tests/signaling/redis-server";
import {
  barePairings,
  type Child,
  connect,
  LIMITS_OFF,
  type Pace,
  pairings,
  pings,
  spawnScript,
} from "./signaling-clients";
import { fmt, percentile } from "./table";

const here = fileURLToPath(new URL("..", import.meta.url));
const TREES = (process.env.AB_TREES ?? here).split(",").filter(Boolean);
const MODE = process.env.AB_MODE ?? "redis";
const PHASE = process.env.AB_PHASE ?? "stream";
const ROUNDS = Number(process.env.AB_ROUNDS ?? 20);
const PROVIDERS = Number(process.env.AB_PROVIDERS ?? 2000);
/** Node flags for the servers; `|` separates each tree's own (the same tree twice compares flags). */
const NODE_FLAGS = (process.env.AB_NODE_FLAGS ?? "").split("|").map((f) => f.split(" ").filter(Boolean));
const CLIENTS = PHASE === "stream" ? 20 : 1;
const RATE = PHASE === "stream" ? 1000 : 0;
/** Per round and measure: EACH operations per client, in BATCHES batches rotating which goes first. */
const EACH = Number(process.env.AB_EACH ?? (PHASE === "stream" ? 50 : 500));
const BATCHES = 10;
/** Pairings each requester runs back to back on every node before each round (as the bench's saturated phase does). */
const SATURATE = Number(process.env.AB_SATURATE ?? 0);
/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds a redis-server has used, from its INFO. */
function redisCpu(port: number): number {
  const info = execFileSync("redis-cli", ["-p", String(port), "INFO", "cpu"], { encoding: "utf8" });
  const read = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return read("used_cpu_sys") + read("used_cpu_user");
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => percentile(sorted(xs), 50);

async function main() {
  const procs: Child[] = [];
  const redises: RedisProcess[] = [];
  const sockets: Socket[] = [];
  try {
    const bare = await spawnScript("bench/bare-echo-server.ts", {}, "listening");
    procs.push(bare);
    const bareUrl = `http://127.0.0.1:${bare.ready.port as number}`;
    const nodes: { tree: string; url: string; requesters: Socket[]; pid: number; redisPort?: number }[] = [];
    for (const [i, tree] of TREES.entries()) {
      const env: Record<string, string> = { ...LIMITS_OFF };
      if (MODE === "redis") {
        const redis = await startRedis();
        redises.push(redis);
        env.REDIS_URL = redis.url;
      }
      const output = process.env.AB_STDOUT_DIR && `${process.env.AB_STDOUT_DIR}/node-${i}.out`;
      const server = await spawnScript("signaling/main.ts", env, "listening", {
        cwd: tree,
        flags: NODE_FLAGS[i] ?? NODE_FLAGS[0] ?? [],
        ...(output && { output }),
      });
      procs.push(server);
      const url = `http://127.0.0.1:${server.ready.port as number}`;
      // Relay targets on the bare server only once (the bare pairing messages need them).
      const providerEnv: Record<string, string> = { BENCH_PROVIDERS: String(PROVIDERS), SIGNALING_URL: url };
      if (i === 0) providerEnv.BARE_URL = bareUrl;
      procs.push(await spawnScript("bench/signaling-providers.ts", providerEnv, "ready", { cwd: tree }));
      const requesters = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url)));
      sockets.push(...requesters);
      nodes.push({ tree, url, requesters, pid: server.pid, redisPort: redises.at(-1)?.port });
    }
    const bareClients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(bareUrl)));
    sockets.push(...bareClients);

    const kinds = [...nodes.map((_, i) => `pairing ${i}`), "ack", "bare"];
    const run = async (kind: string, n: number): Promise<number[]> => {
      const t0 = performance.now();
      const gapMs = RATE ? (1000 * CLIENTS) / RATE : 0;
      const one = (c: number): Promise<number[]> => {
        const pace: Pace | undefined = RATE
          ? { start: t0, gapMs, offsetMs: (gapMs * c) / CLIENTS }
          : undefined;
        if (kind === "ack") return pings(bareClients[c]!, n, pace);
        if (kind === "bare") return barePairings(bareClients[c]!, n, pace);
        const node = nodes[Number(kind.split(" ")[1])]!;
        return pairings(node.requesters[c]!, n, pace);
      };
      return (await Promise.all(Array.from({ length: CLIENTS }, (_, c) => one(c)))).flat();
    };
    // Warm every path.
    for (const k of kinds) await run(k, 20);

    const cpu0 = nodes.map((n) => [cpuSeconds(n.pid), n.redisPort ? redisCpu(n.redisPort) : 0]);
    const perRound: Record<string, { p50: number; p99: number }>[] = [];
    const pooled: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
    for (let r = 0; r < ROUNDS; r++) {
      if (SATURATE)
        for (const node of nodes) await Promise.all(node.requesters.map((c) => pairings(c, SATURATE)));
      const lat: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]));
      for (let b = 0; b < BATCHES; b++)
        for (let k = 0; k < kinds.length; k++) {
          // Rotate the order every batch, and reverse it every other round.
          const idx = (b + k + r) % kinds.length;
          const kind = kinds[r % 2 ? kinds.length - 1 - idx : idx]!;
          lat[kind]!.push(...(await run(kind, EACH / BATCHES)));
        }
      const stats = Object.fromEntries(
        kinds.map((k) => {
          const s = sorted(lat[k]!);
          pooled[k]!.push(...s);
          return [k, { p50: percentile(s, 50), p99: percentile(s, 99) }];
        }),
      );
      perRound.push(stats);
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      console.log(
        `round ${r + 1} load ${load}: ` +
          kinds.map((k) => `${k} ${fmt(stats[k]!.p50, 3)}/${fmt(stats[k]!.p99, 2)}`).join("  "),
      );
    }
    const pairingsEach = ROUNDS * EACH * CLIENTS;
    for (const [i, n] of nodes.entries()) {
      const node = ((cpuSeconds(n.pid) - cpu0[i]![0]!) / pairingsEach) * 1e6;
      const redis = n.redisPort ? ((redisCpu(n.redisPort) - cpu0[i]![1]!) / pairingsEach) * 1e6 : 0;
      console.log(`tree ${i}: node CPU per pairing ${fmt(node, 0)} µs, its Redis ${fmt(redis, 0)} µs`);
    }
    console.log(`\n${MODE} ${PHASE}, ${ROUNDS} rounds; trees: ${TREES.map((t, i) => `${i}=${t}`).join(" ")}`);
    for (const k of kinds) {
      const s = sorted(pooled[k]!);
      console.log(
        `${k}: pooled p50 ${fmt(percentile(s, 50), 3)} p99 ${fmt(percentile(s, 99), 2)} p99.9 ${fmt(percentile(s, 99.9), 2)} max ${fmt(s[s.length - 1]!, 2)}; median of round p50 ${fmt(median(perRound.map((x) => x[k]!.p50)), 3)}, of round p99 ${fmt(median(perRound.map((x) => x[k]!.p99)), 2)}; round p99s ${perRound.map((x) => fmt(x[k]!.p99, 1)).join(" ")}`,
      );
    }
    const last = `pairing ${nodes.length - 1}`;
    if (nodes.length > 1) {
      for (const stat of ["p50", "p99"] as const) {
        const ratios = perRound.map((x) => x[last]![stat] / x["pairing 0"]![stat]);
        const faster = ratios.filter((x) => x < 1).length;
        const s = sorted(ratios);
        console.log(
          `${stat}: tree ${nodes.length - 1} / tree 0 per round: median ${fmt(median(ratios), 3)} (${fmt(s[0]!, 2)}–${fmt(s[s.length - 1]!, 2)}), faster in ${faster} of ${ratios.length}`,
        );
      }
    }
    for (const [i] of nodes.entries()) {
      const ratios = perRound.map((x) => x[`pairing ${i}`]!.p50 / x.ack!.p50);
      console.log(`pairing ${i} / ack p50, median of rounds: ${fmt(median(ratios), 2)}`);
    }
    console.log(
      `bare / ack p50, median of rounds: ${fmt(median(perRound.map((x) => x.bare!.p50 / x.ack!.p50)), 2)}`,
    );
  } finally {
    for (const s of sockets) s.disconnect();
    for (const p of procs.reverse()) await p.stop();
    for (const r of redises) await r.stop();
  }
}

await main();
