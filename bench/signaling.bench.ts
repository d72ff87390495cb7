/**
 * Signaling under load on loopback: 2,000 registered providers, then requesters pairing and
 * ending sessions. The server runs in its own process (as in production), so its memory per
 * provider is read from its own /metrics; the baseline is a bare socket.io request/ack round trip
 * against a bare server process, measured in the same run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { io as connectClient, type Socket } from "socket.io-client";
import {
  encodePublicKey,
  fromHex,
  generateKeyPair,
  maxPriceToWire,
  priceToWire,
  registrationClaims,
  registrationMessage,
  sign,
  toHex,
} from "../protocol";
import { fmt, percentile, printTable } from "./table";

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 2000);
const SEQUENTIAL = 1000;
const CONCURRENT_REQUESTERS = 20;
const CONCURRENT_EACH = 100;
const root = fileURLToPath(new URL("..", import.meta.url));

interface Child {
  url: string;
  stop(): Promise<void>;
}

async function spawnServer(script: string, env: Record<string, string> = {}): Promise<Child> {
  // BENCH_PROFILE=<dir> writes a CPU profile of each server process there.
  const profile = process.env.BENCH_PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, "--import", "tsx", script], {
    cwd: root,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function connect(url: string): Promise<Socket> {
  const socket = connectClient(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function serverMemory(url: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rss: read("process_resident_memory_bytes"), heap: read("nodejs_heap_used_bytes") };
}

/** The server's own pairing histogram totals (seconds), to separate its work from the wire. */
async function serverPairing(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) =>
    Number(new RegExp(`^${name} ([0-9.e-]+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return { sum: read("silk_pairing_seconds_sum"), count: read("silk_pairing_seconds_count") };
}

async function registerProvider(url: string): Promise<Socket> {
  const socket = await connect(url);
  const identity = generateKeyPair();
  socket.on("session:offer", (_offer: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  const { challenge } = (await socket.emitWithAck("provider:challenge", { v: 1 })) as { challenge: string };
  const body = {
    v: 1,
    identityKey: encodePublicKey(identity.publicKey),
    challenge,
    payout: `0:${"ab".repeat(32)}`,
    // Everyone serves the same model: every request ranks all 2,000 providers.
    models: [
      {
        model: "bench-model",
        price: priceToWire({
          nanoPerToken: 10n,
          promptMultiplierBps: 10_000,
          completionMultiplierBps: 10_000,
        }),
      },
    ],
    capacity: 4,
    device: { adapter: "bench", memoryMB: 8192 },
  };
  const signature = sign(
    identity.secretKey,
    registrationMessage(fromHex(challenge, 32, "challenge"), registrationClaims(body)),
  );
  const ack = (await socket.emitWithAck("provider:register", { ...body, signature: toHex(signature) })) as {
    ok: boolean;
  };
  if (!ack.ok) throw new Error(`registration refused: ${JSON.stringify(ack)}`);
  return socket;
}

const request = () => ({
  v: 1,
  model: "bench-model",
  maxPrice: maxPriceToWire({ promptNanoPerToken: 100n, completionNanoPerToken: 100n }),
  sessionKey: encodePublicKey(generateKeyPair().publicKey),
});

/** One requester doing `n` pairings back to back; returns each pairing's latency in ms. */
async function pairings(socket: Socket, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = request();
    const t0 = performance.now();
    const res = (await socket.emitWithAck("session:request", body)) as {
      ok: boolean;
      sessionId?: string;
      error?: unknown;
    };
    out.push(performance.now() - t0);
    if (!res.ok) throw new Error(`pairing failed: ${JSON.stringify(res.error)}`);
    await socket.emitWithAck("session:end", { v: 1, sessionId: res.sessionId });
  }
  return out;
}

async function pings(socket: Socket, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await socket.emitWithAck("ping", { v: 1 });
    out.push(performance.now() - t0);
  }
  return out;
}

function row(name: string, lat: number[], seconds: number) {
  const sorted = [...lat].sort((a, b) => a - b);
  return {
    measure: name,
    count: lat.length,
    "per second": fmt(lat.length / seconds, 0),
    "p50 ms": fmt(percentile(sorted, 50), 3),
    "p99 ms": fmt(percentile(sorted, 99), 3),
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

export default async function bench(): Promise<void> {
  const unlimited = "1000000000";
  const signaling = await spawnServer("signaling/main.ts", {
    IP_CONNECTIONS_PER_MINUTE: unlimited,
    IP_CONNECTION_BURST: unlimited,
    IP_REQUESTS_PER_SECOND: unlimited,
    IP_REQUEST_BURST: unlimited,
    REQUESTS_PER_SECOND: unlimited,
    REQUEST_BURST: unlimited,
    EVENTS_PER_SECOND: unlimited,
    EVENT_BURST: unlimited,
  });
  const bare = await spawnServer("bench/bare-echo-server.ts");
  const sockets: Socket[] = [];
  try {
    const warm = await connect(bare.url);
    sockets.push(warm);
    await pings(warm, 500);

    await new Promise((r) => setTimeout(r, 500));
    const before = await serverMemory(signaling.url);
    const reg = await timed(async () => {
      for (let i = 0; i < PROVIDERS; i += 100) {
        const batch = Math.min(100, PROVIDERS - i);
        sockets.push(
          ...(await Promise.all(Array.from({ length: batch }, () => registerProvider(signaling.url)))),
        );
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    const after = await serverMemory(signaling.url);

    const requester = await connect(signaling.url);
    sockets.push(requester);
    await pairings(requester, 200); // warm-up
    const serverBefore = await serverPairing(signaling.url);
    const seqPair = await timed(() => pairings(requester, SEQUENTIAL));
    const serverAfter = await serverPairing(signaling.url);
    const seqPing = await timed(() => pings(warm, SEQUENTIAL));

    const requesters = await Promise.all(
      Array.from({ length: CONCURRENT_REQUESTERS }, () => connect(signaling.url)),
    );
    const pingers = await Promise.all(Array.from({ length: CONCURRENT_REQUESTERS }, () => connect(bare.url)));
    sockets.push(...requesters, ...pingers);
    const conPair = await timed(async () =>
      (await Promise.all(requesters.map((r) => pairings(r, CONCURRENT_EACH)))).flat(),
    );
    const conPing = await timed(async () =>
      (await Promise.all(pingers.map((p) => pings(p, CONCURRENT_EACH)))).flat(),
    );

    printTable(
      `signaling: ${PROVIDERS} providers registered in ${fmt(reg.seconds, 1)} s, one model, capacity 4 each`,
      [
        row("bare socket.io ack, 1 client", seqPing.value, seqPing.seconds),
        row("pairing, 1 requester", seqPair.value, seqPair.seconds),
        row(`bare socket.io ack, ${CONCURRENT_REQUESTERS} clients`, conPing.value, conPing.seconds),
        row(`pairing, ${CONCURRENT_REQUESTERS} requesters`, conPair.value, conPair.seconds),
      ],
    );
    const p50 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    printTable("signaling: against the targets", [
      {
        measure: "pairing p50 / bare ack p50, 1 client",
        value: fmt(p50(seqPair.value) / p50(seqPing.value), 2),
        target: "<= 3",
      },
      {
        measure: `pairing p50 / bare ack p50, ${CONCURRENT_REQUESTERS} clients`,
        value: fmt(p50(conPair.value) / p50(conPing.value), 2),
        target: "",
      },
      {
        measure: "server-side mean pairing ms, 1 requester",
        value: fmt(
          ((serverAfter.sum - serverBefore.sum) / (serverAfter.count - serverBefore.count)) * 1000,
          3,
        ),
        target: "",
      },
      {
        measure: "server RSS per provider, KB",
        value: fmt((after.rss - before.rss) / PROVIDERS / 1024, 1),
        target: "< 50",
      },
      {
        measure: "server heap per provider, KB",
        value: fmt((after.heap - before.heap) / PROVIDERS / 1024, 1),
        target: "",
      },
    ]);
  } finally {
    for (const s of sockets) s.disconnect();
    await Promise.all([signaling.stop(), bare.stop()]);
  }
}
