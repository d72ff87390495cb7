/** The clients and processes of the signaling benchmark (signaling.bench.ts). */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { io as connectClient, type Socket } from "socket.io-client";
import { flatPrice, generateKeyPair, helloOffer, maxPriceToWire } from "../protocol";
import { signedRegistration } from "../tests/signaling/helpers";
import { fmt, percentile } from "./table";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Every rate limit of the signaling server off (and no heartbeat deadline) for the benches. */
const unlimited = "1000000000";
export const LIMITS_OFF: Record<string, string> = Object.fromEntries(
  [
    "IP_CONNECTIONS_PER_MINUTE",
    "IP_CONNECTION_BURST",
    "IP_REQUESTS_PER_SECOND",
    "IP_REQUEST_BURST",
    "REQUESTS_PER_SECOND",
    "REQUEST_BURST",
    "EVENTS_PER_SECOND",
    "EVENT_BURST",
    // The bench's providers do not heartbeat: keep them listed for the whole run.
    "HEARTBEAT_TIMEOUT_MS",
  ].map((k) => [k, unlimited]),
);

export interface Child {
  url: string;
  pid: number;
  /** The JSON line the process announced itself with. */
  ready: Record<string, unknown>;
  stop(): Promise<void>;
  /** Has the process collect its garbage (bench/gc-on-signal.mjs) and waits a moment for it. */
  collect(): Promise<void>;
}

/** A server script; resolves once it logs `listening` (with its port). */
export async function spawnServer(script: string, env: Record<string, string> = {}): Promise<Child> {
  // BENCH_SERVER_FLAGS (e.g. `--trace-gc`) go to each server's node; its output then goes to a file
  // in BENCH_SERVER_OUT (a directory) when that is set.
  const flags = (process.env.BENCH_SERVER_FLAGS ?? "").split(" ").filter(Boolean);
  const dir = process.env.BENCH_SERVER_OUT;
  const output = dir && `${dir}/${script.replaceAll("/", "_")}-${Date.now()}.out`;
  const child = await spawnScript(script, env, "listening", { flags, ...(output && { output }) });
  return { ...child, url: `http://127.0.0.1:${child.ready.port as number}` };
}

/**
 * Any bench script, in its own process; resolves once it prints a JSON line with `msg`. `cwd` runs
 * another checkout's script (signaling-ab.ts), `flags` go to node before the script, `output` is
 * a file that gets the process's stdout after its ready line (for --trace-gc-nvp and the like).
 */
export async function spawnScript(
  script: string,
  env: Record<string, string>,
  msg: string,
  { cwd = root, flags = [], output }: { cwd?: string; flags?: string[]; output?: string } = {},
): Promise<Child> {
  // BENCH_PROFILE=<dir> writes a CPU profile of each child process there.
  const profile = process.env.BENCH_PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const gcHook = ["--expose-gc", "--import", `${root}bench/gc-on-signal.mjs`];
  const args = [...profile, ...gcHook, ...flags, "--import", "tsx", script];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes(`"msg":"${msg}"`));
      if (!line) return;
      child.stdout?.off("data", onData);
      forwardErrors(script, child);
      if (output) child.stdout?.pipe(createWriteStream(output));
      resolve(JSON.parse(line) as Record<string, unknown>);
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    url: "",
    pid: child.pid ?? 0,
    ready,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    collect: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGUSR2");
      await new Promise((r) => setTimeout(r, 300));
    },
  };
}

/**
 * After a child is ready, its log lines at error level (pino 50+) go to this process's stderr:
 * an `INTERNAL` a client saw is explained there, with the underlying error, not thrown away.
 */
function forwardErrors(script: string, child: ChildProcess): void {
  let rest = "";
  let shown = 0;
  child.stdout?.on("data", (d: Buffer) => {
    const lines = (rest + d.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (shown >= 50 || !line.includes('"level":')) continue;
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
      if (level < 50) continue;
      shown++;
      console.error(`[${script}] ${line}`);
    }
  });
}

export function connect(url: string): Promise<Socket> {
  const socket = connectClient(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** A Prometheus sample from the server's /metrics (`name` may carry labels), NaN when absent. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const escaped = name.replace(/[{}"]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

export async function serverMemory(url: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rss: read("process_resident_memory_bytes"), heap: read("nodejs_heap_used_bytes") };
}

/**
 * The server's own histogram totals (seconds): request → grant (its work, no wire), and offer →
 * the provider's answer (one round trip to the provider, awaited after the grant).
 */
export async function serverPairing(
  url: string,
): Promise<{ sum: number; count: number; answerSum: number; answerCount: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) =>
    Number(new RegExp(`^${name} ([0-9.e-]+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    sum: read("silk_pairing_seconds_sum"),
    count: read("silk_pairing_seconds_count"),
    answerSum: read("silk_offer_answer_seconds_sum"),
    answerCount: read("silk_offer_answer_seconds_count"),
  };
}

export async function registerProvider(url: string, model = "bench-model"): Promise<Socket> {
  const socket = await connect(url);
  const identity = generateKeyPair();
  socket.on("session:offer", (_offer: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  const { challenge } = (await socket.emitWithAck("provider:challenge", { v: 1 })) as { challenge: string };
  // Everyone serves the same model: every request ranks all 2,000 providers.
  const registration = signedRegistration(identity, challenge, {
    models: [{ model, price: flatPrice(10n) }],
    capacity: 4,
  });
  const ack = (await socket.emitWithAck("provider:register", registration)) as {
    ok: boolean;
  };
  if (!ack.ok) throw new Error(`registration refused: ${JSON.stringify(ack)}`);
  return socket;
}

/**
 * A session request, with a nonce as the SDK sends (the grant's MAC covers it, see `greet`). The
 * session key is random bytes, not a generated key pair: the server only checks its form, and
 * keygen in this process would be timed as if it were the server's.
 */
const request = (model = "bench-model") => ({
  v: 1,
  model,
  maxPrice: maxPriceToWire({ promptNanoPerToken: 100n, completionNanoPerToken: 100n }),
  sessionKey: randomBytes(32).toString("hex"),
  nonce: randomBytes(16).toString("hex"),
});

const greeted = new WeakSet<Socket>();

/**
 * A requester's `server:hello`, once per connection as the SDK says it (protocol/server-grant.ts):
 * every grant on the connection then carries the server's MAC, so pairings pay for it.
 */
async function greet(socket: Socket): Promise<void> {
  if (greeted.has(socket)) return;
  greeted.add(socket);
  const offer = helloOffer();
  await socket.emitWithAck("server:hello", { v: 1, nonce: offer.nonce, dh: offer.dh });
}

/**
 * Waits for the `i`-th slot of a paced client (one operation every `gapMs`, starting `offsetMs`
 * after `start`), so a group of clients makes an open-loop stream at a fixed total rate.
 */
export interface Pace {
  start: number;
  gapMs: number;
  offsetMs: number;
}
async function slot(pace: Pace | undefined, i: number): Promise<void> {
  if (!pace) return;
  const wait = pace.start + pace.offsetMs + i * pace.gapMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/**
 * One requester doing `n` pairings, back to back or paced (round the `models` given, one each in
 * turn); returns each pairing's latency in ms.
 */
export async function pairings(
  socket: Socket,
  n: number,
  pace?: Pace,
  models: readonly string[] = ["bench-model"],
): Promise<number[]> {
  const out: number[] = [];
  await greet(socket);
  for (let i = 0; i < n; i++) {
    await slot(pace, i);
    const body = request(models[i % models.length]);
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

/**
 * The same loop as `pairings` against the bare server's `pair` and `end`: a pairing's messages
 * (request, grant, offer and its answer, end and its notice) with none of the server's work.
 */
export async function barePairings(socket: Socket, n: number, pace?: Pace): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    await slot(pace, i);
    const body = request();
    const t0 = performance.now();
    const res = (await socket.emitWithAck("pair", body)) as { ok: boolean; sessionId?: string };
    out.push(performance.now() - t0);
    if (!res.ok) throw new Error("bare pairing found no target");
    await socket.emitWithAck("end", { v: 1, sessionId: res.sessionId });
  }
  return out;
}

/**
 * One requester asking `n` times for what nobody can give (a model nobody serves, or a price under
 * everyone's); returns each refusal's latency in ms.
 */
export async function refusals(
  socket: Socket,
  n: number,
  why: "NO_MODEL" | "PRICE_TOO_LOW",
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const body =
      why === "NO_MODEL"
        ? { ...request(), model: "nobody-serves-this" }
        : { ...request(), maxPrice: maxPriceToWire({ promptNanoPerToken: 1n, completionNanoPerToken: 1n }) };
    const t0 = performance.now();
    const res = (await socket.emitWithAck("session:request", body)) as {
      ok: boolean;
      error?: { code: string };
    };
    out.push(performance.now() - t0);
    if (res.ok || res.error?.code !== why) throw new Error(`expected ${why}: ${JSON.stringify(res)}`);
  }
  return out;
}

export async function pings(socket: Socket, n: number, pace?: Pace): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    await slot(pace, i);
    const t0 = performance.now();
    await socket.emitWithAck("ping", { v: 1 });
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * One requester relaying `n` times through the bare server to a client that acks (two round trips
 * each): to the next target in turn (`relay`), or always the same one (`relay-hot`).
 */
export async function relays(
  socket: Socket,
  n: number,
  event: "relay" | "relay-hot" = "relay",
  pace?: Pace,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    await slot(pace, i);
    const body = request();
    const t0 = performance.now();
    await socket.emitWithAck(event, body);
    out.push(performance.now() - t0);
  }
  return out;
}

/** A client of the bare server that acks relayed messages and bare offers, as a provider acks an offer. */
export async function relayTarget(url: string): Promise<Socket> {
  const socket = await connect(url);
  socket.on("relayed", (_m: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  socket.on("offer", (_m: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  socket.on("ended", () => undefined);
  await socket.emitWithAck("serve", { v: 1 });
  return socket;
}

export function row(name: string, lat: number[], seconds: number) {
  const sorted = [...lat].sort((a, b) => a - b);
  return {
    measure: name,
    count: lat.length,
    "per second": fmt(lat.length / seconds, 0),
    "p50 ms": fmt(percentile(sorted, 50), 3),
    "p99 ms": fmt(percentile(sorted, 99), 3),
  };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}
