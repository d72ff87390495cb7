import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "redis";
import { type RedisProcess, startRedis } from "./redis-server";

const run = promisify(execFile);

/** A real Redis Cluster on loopback: `masters` masters, `replicas` replicas each, made by `redis-cli --cluster create`. */
export interface RedisCluster {
  /** Every node's URL (masters first, as created). */
  urls: string[];
  /** The port of the master serving `key`'s slot, and of its replica. */
  shardOf(key: string): Promise<{ master: number; replica: number }>;
  /** A manual failover (CLUSTER FAILOVER on the replica): resolves once the replica is master and the cluster is ok. */
  failover(replicaPort: number): Promise<void>;
  stop(): Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await listenAndClose(0);
    if (port < 55_000 && (await listenAndClose(port + 10_000).catch(() => 0)) > 0) return port;
  }
  throw new Error("no free port pair for a cluster node");
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const { port: bound } = srv.address() as { port: number };
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * `nodeTimeoutMs`: how long a node may miss the cluster bus before the others mark it failed. The
 * test's 2 s keeps failover quick; a bench on a swamped machine passes more, since with no
 * replicas a master starved past it takes the whole cluster down (`CLUSTERDOWN`).
 */
export async function startRedisCluster(
  masters = 3,
  replicas = 1,
  nodeTimeoutMs = 2000,
): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "silk-cluster-"));
  const nodes: RedisProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort());
    nodes.push(
      ...(await Promise.all(
        ports.map((port) =>
          startRedis(port, [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--cluster-node-timeout",
            String(nodeTimeoutMs),
          ]),
        ),
      )),
    );
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...ports.map((p) => `127.0.0.1:${p}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      { timeout: 30_000 },
    );
    await untilAllOk(ports, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    async shardOf(key) {
      const slot = await ask<number>(ports[0]!, ["CLUSTER", "KEYSLOT", key]);
      const portOf = (fields: string[]) => Number(fields[1]!.split(":")[1]!.split("@")[0]);
      // Gossip may not yet have told this node which master a replica follows (a cluster just
      // created reads ok before every replica is attached): ask again until it has.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const lines = String(await ask<string>(ports[0]!, ["CLUSTER", "NODES"]))
          .trim()
          .split("\n")
          .map((l) => l.split(" "));
        const master = lines.find(
          (f) =>
            f[2]!.includes("master") &&
            f.slice(8).some((range) => {
              const [lo, hi] = range.split("-").map(Number);
              return slot >= lo! && slot <= (hi ?? lo)!;
            }),
        );
        const replica = master && lines.find((f) => f[3] === master[0]);
        if (master && replica) return { master: portOf(master), replica: portOf(replica) };
        if (Date.now() > deadline) throw new Error(`no master with a replica serves slot ${slot}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async failover(replicaPort) {
      // A manual failover that does not finish within Redis's own 5 s (a replica still catching
      // up with a busy master, as under the bench's traffic) is dropped without a word: ask again
      // after 6 s, and the third time with FORCE (no handshake with the master; still elected).
      const deadline = Date.now() + 30_000;
      for (let attempt = 0; ; attempt++) {
        await ask(replicaPort, attempt < 2 ? ["CLUSTER", "FAILOVER"] : ["CLUSTER", "FAILOVER", "FORCE"]);
        const retryAt = Date.now() + 6_000;
        let role: unknown[] = [];
        while (Date.now() < retryAt && Date.now() < deadline) {
          role = await ask<unknown[]>(replicaPort, ["ROLE"]);
          if (role[0] === "master") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (role[0] === "master") break;
        if (Date.now() >= deadline)
          throw new Error(`replica on ${replicaPort} never became master (${attempt + 1} CLUSTER FAILOVER)`);
      }
      await untilAllOk(ports, 30_000);
    },
    stop,
  };
}

/** One command to one node, on a connection of its own. */
export async function ask<T>(port: number, command: string[]): Promise<T> {
  const client = createClient({ url: `redis://127.0.0.1:${port}` });
  await client.connect();
  try {
    return (await client.sendCommand(command)) as T;
  } finally {
    await client.close();
  }
}

/** Until every node says the cluster is ok and knows all the others. */
async function untilAllOk(all: number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const infos = await Promise.all(all.map((p) => ask<string>(p, ["CLUSTER", "INFO"]).catch(() => "")));
    if (infos.every((i) => i.includes("cluster_state:ok") && i.includes(`cluster_known_nodes:${all.length}`)))
      return;
    if (Date.now() > deadline) throw new Error("redis cluster never reached cluster_state:ok");
    await new Promise((r) => setTimeout(r, 100));
  }
}
