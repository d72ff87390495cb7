/**
 * The signaling bench's cluster rows past one shard: a three-master Redis Cluster with a replica
 * each, one model on each master (each model's keys live in its own hash-tagged slot), one node
 * pairing one requester across the three in turn, next to a bare ack measured in the same
 * batches; then one master fails over to its replica (`CLUSTER FAILOVER`) and the same again,
 * with how long the first pairing on the moved shard took to come back and how many requests
 * failed meanwhile.
 */
import type { Socket } from "socket.io-client";
import { modelTag } from "../signaling/directory/redis-spaces";
import { type RedisCluster, startRedisCluster } from "../tests/signaling/redis-cluster";
import { connect, metric, pairings, pings, registerProvider, spawnServer } from "./signaling-clients";
import { percentile } from "./table";

const PER_MODEL = 10;
const BATCHES = 20;
const EACH = 50;

export interface FailoverResult {
  models: number;
  masters: number;
  before: Measured;
  after: Measured;
  /** From CLUSTER FAILOVER to the replica being master and the cluster ok. */
  failoverSeconds: number;
  /** From then to the first pairing granted on the moved shard. */
  recoverySeconds: number;
  /** Requests on the moved shard answered with an error in that time. */
  failedMeanwhile: number;
}

const p50 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Their p50s, and the node's Redis commands per pairing (pairing, leasing and ending alike). */
export interface Measured {
  pairing: number;
  ack: number;
  redisPerPairing: number;
}

/** Every Redis command the node's directory sent so far, whatever for. */
async function redisCommands(url: string): Promise<number> {
  let sum = 0;
  for (const op of ["pair", "lease", "end"])
    sum += (await metric(url, `silk_redis_commands_total{op="${op}"}`)) || 0;
  return sum;
}

/** Interleaved batches of pairings round the models and bare acks. */
async function measure(url: string, requester: Socket, bare: Socket, models: string[]): Promise<Measured> {
  const pair: number[] = [];
  const ack: number[] = [];
  const sent = await redisCommands(url);
  for (let b = 0; b < BATCHES; b++) {
    pair.push(...(await pairings(requester, EACH, undefined, models)));
    ack.push(...(await pings(bare, EACH)));
  }
  const redisPerPairing = ((await redisCommands(url)) - sent) / pair.length;
  return { pairing: p50(pair), ack: p50(ack), redisPerPairing };
}

/** The key's master and replica, once gossip has told every node which replica follows whom. */
async function shardOf(cluster: RedisCluster, key: string): Promise<{ master: number; replica: number }> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    try {
      return await cluster.shardOf(key);
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function failoverRun(bareUrl: string, env: Record<string, string>): Promise<FailoverResult> {
  const cluster = await startRedisCluster(3, 1, 15_000);
  const sockets: Socket[] = [];
  let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
  try {
    // One model per master: models whose hash tags fall in slots of different masters.
    const byMaster = new Map<number, { model: string; replica: number }>();
    for (let i = 0; byMaster.size < 3 && i < 500; i++) {
      const model = `bench-model-${i}`;
      const { master, replica } = await shardOf(cluster, `x{${modelTag(model)}}`);
      if (!byMaster.has(master)) byMaster.set(master, { model, replica });
    }
    const chosen = [...byMaster.values()];
    const models = chosen.map((c) => c.model);
    server = await spawnServer("signaling/main.ts", { ...env, REDIS_URL: cluster.urls.join(",") });
    for (const model of models)
      sockets.push(
        ...(await Promise.all(Array.from({ length: PER_MODEL }, () => registerProvider(server!.url, model)))),
      );
    const requester = await connect(server.url);
    const bare = await connect(bareUrl);
    sockets.push(requester, bare);
    await measure(server.url, requester, bare, models); // warm-up: leases, scripts loaded on every shard
    const before = await measure(server.url, requester, bare, models);

    const moved = chosen[0]!;
    const t0 = performance.now();
    await cluster.failover(moved.replica);
    const t1 = performance.now();
    let failedMeanwhile = 0;
    for (;;) {
      try {
        await pairings(requester, 1, undefined, [moved.model]);
        break;
      } catch {
        failedMeanwhile++;
      }
      if (performance.now() - t1 > 60_000) throw new Error("no pairing on the moved shard within 60 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    const recoverySeconds = (performance.now() - t1) / 1000;
    const after = await measure(server.url, requester, bare, models);
    return {
      models: models.length,
      masters: byMaster.size,
      before,
      after,
      failoverSeconds: (t1 - t0) / 1000,
      recoverySeconds,
      failedMeanwhile,
    };
  } finally {
    for (const s of sockets) s.disconnect();
    await server?.stop();
    await cluster.stop();
  }
}
