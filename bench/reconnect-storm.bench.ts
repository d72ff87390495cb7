/**
 * Issue 12: a reconnect storm. N providers (10,000 by default; `BENCH_STORM_PROVIDERS`), all from
 * one address (loopback, as behind a NAT), each on the clients' own connection machine
 * (`peer/signaling-connection.ts`: its backoff, dial deadline, registration retries and resume
 * ticket), register with a signaling node in its own process. The node is stopped and started
 * again on the same port with a per-IP budget of 10 connections, and every provider comes back as
 * its machine decides. Twice: first with the node's admission gate off (the default: every handshake taken,
 * however far behind the node is: the old behaviour), then on (a node past its backlog turns
 * returning providers away at once with `OVERLOADED` and a time to come back). Baseline in the
 * same run: the first registration, with no limit at all. Each row gives how many were back 10,
 * 30, 60 and 120 s after the restart, and the machine's load. Then what the same window gives
 * clients without a valid ticket: a bare `?resume=1` claim, a forged ticket, an expired one.
 *
 * Registration signatures are made with Node's crypto (one process signs for all N; each real
 * provider signs its own) and the node keeps its resume secret across restarts (`RESUME_SECRET`).
 */
import { createPrivateKey, type KeyObject, randomBytes, sign } from "node:crypto";
import { loadavg } from "node:os";
import { io, type Socket } from "socket.io-client";
import type { Phase } from "../peer/connection-machine";
import { SignalingConnection } from "../peer/signaling-connection";
import {
  encodePublicKey,
  flatPrice,
  fromHex,
  generateKeyPair,
  type KeyPair,
  registrationClaims,
  registrationMessage,
  toHex,
} from "../protocol";
import { ResumeTickets } from "../signaling/resume-tickets";
import { registrationBody } from "../tests/signaling/helpers";
import { freePort } from "../tests/signaling/redis-server";
import { spawnScript } from "./signaling-clients";
import { fmt, percentile, printTable } from "./table";

const N = Number(process.env.BENCH_STORM_PROVIDERS ?? 10_000);
const BATCH = 250;
const WAVE_LIMIT_MS = Number(process.env.BENCH_STORM_LIMIT_S ?? 300) * 1000;
const SECRET = randomBytes(16).toString("hex");
const SMALL_BUDGET = { IP_CONNECTION_BURST: "10", IP_CONNECTIONS_PER_MINUTE: "60", RESUME_SECRET: SECRET };
/** The admission gate off (the default), and on. */
const NO_GATE = { OVERLOAD_LAG_MS: "0", OVERLOAD_DRAIN_MS: "0" };
const GATE = {
  OVERLOAD_LAG_MS: process.env.BENCH_OVERLOAD_LAG_MS ?? "5000",
  OVERLOAD_MIN_PENDING: process.env.BENCH_OVERLOAD_MIN_PENDING ?? "1000",
  OVERLOAD_DRAIN_MS: process.env.BENCH_OVERLOAD_DRAIN_MS ?? "10000",
};
const NO_LIMITS = {
  ...Object.fromEntries(
    ["IP_CONNECTIONS_PER_MINUTE", "IP_CONNECTION_BURST", "EVENTS_PER_SECOND", "EVENT_BURST"].map((k) => [
      k,
      "1000000000",
    ]),
  ),
  ...NO_GATE,
  RESUME_SECRET: SECRET,
};
/** What `peer/` clients wait for an ack (signaling-client.ts). */
const ACK_TIMEOUT_MS = 15_000;

let nodeUp = false;
/**
 * How late this process's own timers run (ms, the worst in the last 10 s): N clients share one
 * event loop here, and a loop that late times its own dials out before it reads the node's answers.
 */
let clientLateMs = 0;
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  clientLateMs = Math.max(clientLateMs, now - lastTick - 100);
  lastTick = now;
}, 100).unref();
/** Why dials failed while a node was up: the server's typed code when it sent one, else the client's message. */
const connectErrors = new Map<string, number>();
/** Why registered providers lost their connection while a node was up (socket.io's reason). */
const drops = new Map<string, number>();
/** Why registrations failed while a node was up. */
const registerErrors = new Map<string, number>();
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

interface Provider {
  readonly identity: KeyPair;
  /** The same key for Node's crypto: one process signs for all N providers (each real one signs its own). */
  readonly key: KeyObject;
  conn?: SignalingConnection;
  phase: Phase;
  /** When it was last registered (ms, performance.now()). */
  registeredAt: number;
  /** The node's resume ticket from the last registration. */
  ticket?: string;
}

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** `signedRegistration`'s body, signed by Node's crypto rather than the pure-JS signer. */
function signedNatively(p: Provider, challenge: string) {
  const reg = registrationBody(p.identity, challenge, {
    models: [{ model: "storm-model", price: flatPrice(10n) }],
    capacity: 1,
  });
  const message = registrationMessage(fromHex(challenge, 32, "challenge"), registrationClaims(reg));
  return { ...reg, signature: toHex(new Uint8Array(sign(null, message, p.key))) };
}

async function ask(socket: Socket, event: string, payload: unknown): Promise<Record<string, unknown>> {
  let ack: { ok?: boolean; error?: { code?: string } } & Record<string, unknown>;
  try {
    ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    throw Object.assign(new Error(`${event}: no answer`), { code: "TIMEOUT" });
  }
  if (ack?.ok === false) {
    const code = ack.error?.code ?? "REFUSED";
    throw Object.assign(new Error(`${event}: ${code}`), { code });
  }
  return ack;
}

/** The provider side of a registration, as `SignalingClient.registerOn` does it. */
async function register(p: Provider, socket: Socket): Promise<void> {
  try {
    const { challenge } = (await ask(socket, "provider:challenge", { v: 1 })) as { challenge: string };
    const ack = await ask(socket, "provider:register", signedNatively(p, challenge));
    p.registeredAt = performance.now();
    p.ticket = typeof ack.ticket === "string" ? ack.ticket : undefined;
  } catch (err) {
    if (nodeUp) count(registerErrors, String((err as { code?: unknown }).code ?? "ERROR"));
    throw err;
  }
}

/** A provider on the real connection machine: registered once, then it heals by itself. */
async function provider(url: string): Promise<Provider> {
  const identity = generateKeyPair();
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, identity.secretKey]),
    format: "der",
    type: "pkcs8",
  });
  const p: Provider = { identity, key, phase: "connecting", registeredAt: 0 };
  const conn = new SignalingConnection(
    { urls: [url], dialTimeoutMs: 10_000 },
    {
      attach: (socket) => {
        socket.on("session:offer", (_o: unknown, ack?: (r: unknown) => void) => ack?.({ ok: false }));
        // Counted only while a node is up: while it restarts, every attempt fails and that is no refusal.
        socket.on("connect_error", (err: Error & { data?: { code?: unknown } }) => {
          if (nodeUp) count(connectErrors, typeof err.data?.code === "string" ? err.data.code : err.message);
        });
        socket.on("disconnect", (reason: string) => {
          if (nodeUp) count(drops, reason);
        });
      },
      register: (socket) => register(p, socket),
      unregister: () => undefined,
      hungUp: () => undefined,
      changed: (state) => {
        p.phase = state.phase;
      },
      ticket: () => p.ticket,
    },
  );
  p.conn = conn;
  conn.start();
  // The first registration is the owner's, as `SignalingClient.register` makes it; retried here
  // because a challenge can expire on a swamped machine before its registration is read.
  for (let tries = 5; ; tries--) {
    // The machine dials on by itself; on a swamped machine a batch's first connection can take minutes.
    const socket = await conn.ready(WAVE_LIMIT_MS);
    try {
      await register(p, socket);
      conn.from(socket, { type: "registered" });
      return p;
    } catch (err) {
      if (tries <= 1) throw err;
    }
  }
}

async function startNode(port: number, env: Record<string, string>) {
  const node = await spawnScript(
    "signaling/main.ts",
    { PORT: String(port), LOG_LEVEL: "info", ...env },
    "listening",
  );
  return node;
}

/** How many connections dialled with `query` one address gets in, out of `tries`. */
async function admittedOf(url: string, tries: number, query: () => Record<string, string>): Promise<number> {
  let admitted = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < tries; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, tries - i) }, () => {
        const s = io(url, {
          transports: ["websocket"],
          forceNew: true,
          reconnection: false,
          query: query(),
        });
        sockets.push(s);
        return new Promise<boolean>((r) => {
          s.once("connect", () => r(true));
          s.once("connect_error", () => r(false));
        });
      }),
    );
    admitted += batch.filter(Boolean).length;
  }
  for (const s of sockets) s.close();
  return admitted;
}

interface Wave {
  readonly name: string;
  readonly back: number;
  readonly times: number[];
  readonly failedConnects: number;
  readonly outcomes: Record<string, number>;
  readonly load: string;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

/** The node's own count of handshakes by outcome (ticket, admitted, refused, overloaded). */
async function handshakes(url: string): Promise<Record<string, number>> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^silk_connections_total\{outcome="(\w+)"\} (\d+)$/gm))
    out[m[1]!] = Number(m[2]);
  for (const m of metrics.matchAll(/^silk_overloaded_total\{why="(\w+)"\} (\d+)$/gm))
    out[`overloaded for ${m[1]}`] = Number(m[2]);
  return out;
}

/**
 * Restarts the node with `env` and waits (at most `WAVE_LIMIT_MS`) for every provider to be back,
 * printing where the missing ones stand every 10 s: the clients' phases, why their dials and
 * registrations failed, and what the node says it did.
 */
async function wave(
  name: string,
  port: number,
  url: string,
  providers: Provider[],
  stop: () => Promise<void>,
  env: Record<string, string>,
): Promise<{ wave: Wave; stop: () => Promise<void> }> {
  nodeUp = false;
  await stop();
  for (const p of providers) p.registeredAt = 0;
  connectErrors.clear();
  registerErrors.clear();
  drops.clear();
  const restartedAt = performance.now();
  const node = await startNode(port, env);
  nodeUp = true;
  const loadAtStart = load();
  const deadline = restartedAt + WAVE_LIMIT_MS;
  let report = restartedAt + 10_000;
  while (providers.some((p) => p.registeredAt === 0) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    if (performance.now() < report) continue;
    report += 10_000;
    const phases: Record<string, number> = {};
    for (const p of providers) if (p.registeredAt === 0) phases[p.phase] = (phases[p.phase] ?? 0) + 1;
    console.log(
      `  [${name}] ${Math.round((performance.now() - restartedAt) / 1000)} s: ${providers.length - Object.values(phases).reduce((a, b) => a + b, 0)} back; missing by phase ${JSON.stringify(phases)}; dials failed ${JSON.stringify(Object.fromEntries(connectErrors))}; registrations failed ${JSON.stringify(Object.fromEntries(registerErrors))}; connections dropped ${JSON.stringify(Object.fromEntries(drops))}; node ${JSON.stringify(await handshakes(url).catch(() => ({})))}; this process's timers up to ${Math.round(clientLateMs)} ms late; load ${load()}`,
    );
    clientLateMs = 0;
  }
  const times = providers
    .filter((p) => p.registeredAt > 0)
    .map((p) => p.registeredAt - restartedAt)
    .sort((a, b) => a - b);
  return {
    wave: {
      name,
      back: times.length,
      times,
      failedConnects: [...connectErrors.values()].reduce((a, b) => a + b, 0),
      outcomes: await handshakes(url),
      load: `${loadAtStart} → ${load()}`,
    },
    stop: node.stop,
  };
}

export default async function main(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const firstNode = await startNode(port, NO_LIMITS);
  nodeUp = true;
  const first = performance.now();
  const loadAtFirst = load();
  const providers: Provider[] = [];
  for (let i = 0; i < N; i += BATCH)
    providers.push(
      ...(await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, () => provider(url)))),
    );
  const firstSeconds = (performance.now() - first) / 1000;
  const firstFailed = [...connectErrors.values()].reduce((a, b) => a + b, 0);

  const off = await wave("gate off", port, url, providers, firstNode.stop, { ...SMALL_BUDGET, ...NO_GATE });
  const on = await wave("gate on", port, url, providers, off.stop, { ...SMALL_BUDGET, ...GATE });
  const backBy = (w: Wave, s: number) => w.times.filter((t) => t <= s * 1000).length;
  printTable(`Reconnect storm: ${N} providers from one address, per-IP budget of 10 after each restart`, [
    {
      wave: "first registration, no limits (baseline)",
      back: `${N}/${N}`,
      "all in s": fmt(firstSeconds, 1),
      "10 s": "",
      "30 s": "",
      "60 s": "",
      "120 s": "",
      "p50 s": "",
      "failed dials": firstFailed,
      load: `${loadAtFirst} → ${load()}`,
    },
    ...[off.wave, on.wave].map((w) => ({
      wave: `restart, ${w.name}`,
      back: `${w.back}/${N}`,
      "all in s": w.back === N ? fmt((w.times.at(-1) ?? Number.NaN) / 1000, 1) : "not all",
      "10 s": backBy(w, 10),
      "30 s": backBy(w, 30),
      "60 s": backBy(w, 60),
      "120 s": backBy(w, 120),
      "p50 s": fmt(percentile(w.times, 50) / 1000, 1),
      "failed dials": w.failedConnects,
      load: w.load,
    })),
  ]);
  for (const w of [off.wave, on.wave])
    console.log(`The node, ${w.name}: handshakes by outcome ${JSON.stringify(w.outcomes)}.`);
  const stuck: Record<string, number> = {};
  for (const p of providers) if (p.phase !== "registered") stuck[p.phase] = (stuck[p.phase] ?? 0) + 1;
  console.log(`Providers not registered at the end, by phase: ${JSON.stringify(stuck)}`);

  const key = () => encodePublicKey(generateKeyPair().publicKey);
  const wrongSecret = new ResumeTickets("not-the-node-secret", 600_000);
  const expired = new ResumeTickets(SECRET, -1_000);
  const held = providers[0]?.ticket ?? "";
  const others = {
    "bare ?resume=1": () => ({ resume: "1" }),
    "ticket signed with another secret": () => ({
      resume: "1",
      ticket: wrongSecret.issue(key(), Date.now()),
    }),
    "expired ticket": () => ({ resume: "1", ticket: expired.issue(key(), Date.now()) }),
    "one registered provider's ticket, 1000 times": () => ({ resume: "1", ticket: held }),
  };
  for (const [what, query] of Object.entries(others))
    console.log(
      `In the same window, ${what}: ${await admittedOf(url, 1_000, query)} of 1000 connections admitted from the storm's address.`,
    );
  for (const p of providers) p.conn?.dispatch({ type: "close" });
  await on.stop();
}
