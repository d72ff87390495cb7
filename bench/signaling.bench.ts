/**
 * Signaling under load on loopback: 2,000 registered providers, then requesters pairing and
 * ending sessions. The server runs in its own process (as in production), so its memory per
 * provider is read from its own /metrics.
 *
 * A pairing is two round trips on the wire (requester → server → provider → server → requester:
 * the provider must accept the offer before the requester is granted), so it is measured against
 * two baselines from a bare socket.io server in the same run: the single request/ack round trip
 * (the target, 3x) and a bare two-hop relay of the same shape. The providers and the
 * requesters live in this process, as the relay target and its requester do.
 * With redis-server on PATH, the same again against a node using Redis (directory and adapter).
 */
import type { Socket } from "socket.io-client";
import { type RedisProcess, startRedis } from "../tests/signaling/redis-server";
import {
  type Child,
  connect,
  pairings,
  pings,
  registerProvider,
  relays,
  relayTarget,
  row,
  serverMemory,
  serverPairing,
  spawnServer,
  timed,
} from "./signaling-clients";
import { fmt, percentile, printTable } from "./table";

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 2000);
const SEQUENTIAL = 1000;
const CONCURRENT = 20;
const CONCURRENT_EACH = 100;
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

type Row = ReturnType<typeof row>;
const p50 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** Registers the providers on a signaling process and measures pairing, alone and 20 at once. */
async function pairingRun(server: Child, sockets: Socket[], label: string) {
  await new Promise((r) => setTimeout(r, 500));
  const before = await serverMemory(server.url);
  const reg = await timed(async () => {
    for (let i = 0; i < PROVIDERS; i += 100) {
      const batch = Math.min(100, PROVIDERS - i);
      sockets.push(...(await Promise.all(Array.from({ length: batch }, () => registerProvider(server.url)))));
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  const after = await serverMemory(server.url);
  const requester = await connect(server.url);
  sockets.push(requester);
  await pairings(requester, 200); // warm-up
  const serverBefore = await serverPairing(server.url);
  const seq = await timed(() => pairings(requester, SEQUENTIAL));
  const serverAfter = await serverPairing(server.url);
  const requesters = await Promise.all(Array.from({ length: CONCURRENT }, () => connect(server.url)));
  sockets.push(...requesters);
  const con = await timed(async () =>
    (await Promise.all(requesters.map((r) => pairings(r, CONCURRENT_EACH)))).flat(),
  );
  return {
    reg,
    seq,
    con,
    rows: [
      row(`pairing ${label}, 1 requester`, seq.value, seq.seconds),
      row(`pairing ${label}, ${CONCURRENT} requesters`, con.value, con.seconds),
    ],
    serverMs: ((serverAfter.sum - serverBefore.sum) / (serverAfter.count - serverBefore.count)) * 1000,
    rssKB: (after.rss - before.rss) / PROVIDERS / 1024,
    heapKB: (after.heap - before.heap) / PROVIDERS / 1024,
  };
}

/** The bare baselines: one round trip (ping) and two (relay through another client). */
async function bareRun(bare: Child, sockets: Socket[]) {
  const targets = await Promise.all(Array.from({ length: CONCURRENT }, () => relayTarget(bare.url)));
  const clients = await Promise.all(Array.from({ length: CONCURRENT }, () => connect(bare.url)));
  sockets.push(...targets, ...clients);
  const one = clients[0]!;
  await pings(one, 500);
  await relays(one, 500);
  const ping = await timed(() => pings(one, SEQUENTIAL));
  const relay = await timed(() => relays(one, SEQUENTIAL));
  const conPing = await timed(async () =>
    (await Promise.all(clients.map((c) => pings(c, CONCURRENT_EACH)))).flat(),
  );
  const conRelay = await timed(async () =>
    (await Promise.all(clients.map((c) => relays(c, CONCURRENT_EACH)))).flat(),
  );
  return { ping, relay, conPing, conRelay };
}

export default async function bench(): Promise<void> {
  const sockets: Socket[] = [];
  const children: Child[] = [];
  let redis: RedisProcess | undefined;
  try {
    const bare = await spawnServer("bench/bare-echo-server.ts");
    children.push(bare);
    const base = await bareRun(bare, sockets);
    const memory = await pairingRun(await spawnChild(children, LIMITS_OFF), sockets, "(memory)");
    // BENCH_REDIS=0 skips the Redis rows (they need redis-server on PATH anyway).
    redis = process.env.BENCH_REDIS === "0" ? undefined : await startRedis().catch(() => undefined);
    const onRedis = redis
      ? await pairingRun(
          await spawnChild(children, { ...LIMITS_OFF, REDIS_URL: redis.url }),
          sockets,
          "(redis)",
        )
      : undefined;
    // The baselines again, so a drift in the machine's speed during the run shows.
    const again = await bareRun(bare, sockets);

    const rows: Row[] = [
      row("bare ack, 1 round trip, 1 client", base.ping.value, base.ping.seconds),
      row("bare relay, 2 round trips, 1 client", base.relay.value, base.relay.seconds),
      ...memory.rows.slice(0, 1),
      ...(onRedis?.rows.slice(0, 1) ?? []),
      row(`bare ack, ${CONCURRENT} clients`, base.conPing.value, base.conPing.seconds),
      row(`bare relay, ${CONCURRENT} clients`, base.conRelay.value, base.conRelay.seconds),
      ...memory.rows.slice(1),
      ...(onRedis?.rows.slice(1) ?? []),
      row("bare ack, 1 client (again, after)", again.ping.value, again.ping.seconds),
      row(`bare ack, ${CONCURRENT} clients (again, after)`, again.conPing.value, again.conPing.seconds),
    ];
    printTable(
      `signaling: ${PROVIDERS} providers (registered in ${fmt(memory.reg.seconds, 1)} s), one model, capacity 4 each; pairing = request → offer → accept → grant, 2 round trips`,
      rows,
    );
    const ratio = (a: number[], b: number[]) => fmt(p50(a) / p50(b), 2);
    const targets: Record<string, string>[] = [];
    for (const [label, run] of [
      ["memory", memory],
      ["redis", onRedis],
    ] as const) {
      if (!run) continue;
      targets.push(
        {
          measure: `${label}: pairing p50 / bare ack p50, 1 requester`,
          value: ratio(run.seq.value, base.ping.value),
          target: "<= 3",
        },
        {
          measure: `${label}: pairing p50 / bare ack p50, ${CONCURRENT} requesters`,
          value: ratio(run.con.value, base.conPing.value),
          target: "<= 3",
        },
        {
          measure: `${label}: pairing p50 / bare relay p50, 1 requester`,
          value: ratio(run.seq.value, base.relay.value),
          target: "",
        },
        {
          measure: `${label}: pairing p50 / bare relay p50, ${CONCURRENT} requesters`,
          value: ratio(run.con.value, base.conRelay.value),
          target: "",
        },
        {
          measure: `${label}: server-side mean pairing ms, 1 requester`,
          value: fmt(run.serverMs, 3),
          target: "",
        },
        { measure: `${label}: server RSS per provider, KB`, value: fmt(run.rssKB, 1), target: "< 50" },
        { measure: `${label}: server heap per provider, KB`, value: fmt(run.heapKB, 1), target: "" },
      );
    }
    printTable("signaling: against the targets", targets);
  } finally {
    for (const s of sockets) s.disconnect();
    await Promise.all(children.map((c) => c.stop()));
    await redis?.stop();
  }
}

async function spawnChild(children: Child[], env: Record<string, string>): Promise<Child> {
  const child = await spawnServer("signaling/main.ts", env);
  children.push(child);
  return child;
}
