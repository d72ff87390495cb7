/**
 * Issue 12: a reconnect storm. N providers (10,000 by default; `BENCH_STORM_PROVIDERS`) as raw
 * socket.io clients, all from one address (loopback, as behind a NAT), register with a signaling
 * node in its own process; the node is stopped and started again on the same port with a per-IP
 * budget of 10 connections, and every provider reconnects at once (socket.io's jittered backoff,
 * `?resume=1` as `peer/` clients send after losing a connection) and registers again. Baseline in
 * the same run: the first registration, with no limit at all. Each provider dials back with the
 * resume ticket its registration ack carried (signaling/resume-tickets.ts), as `peer/` clients do;
 * the node keeps its secret across the restart (`RESUME_SECRET`). Then what the same window gives
 * clients without a valid ticket: a bare `?resume=1` claim, a forged ticket, an expired one.
 */
import { createPrivateKey, type KeyObject, randomBytes, sign } from "node:crypto";
import { io, type Socket } from "socket.io-client";
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
const SECRET = randomBytes(16).toString("hex");
const SMALL_BUDGET = { IP_CONNECTION_BURST: "10", IP_CONNECTIONS_PER_MINUTE: "60", RESUME_SECRET: SECRET };
const NO_LIMITS = {
  ...Object.fromEntries(
    ["IP_CONNECTIONS_PER_MINUTE", "IP_CONNECTION_BURST", "EVENTS_PER_SECOND", "EVENT_BURST"].map((k) => [
      k,
      "1000000000",
    ]),
  ),
  RESUME_SECRET: SECRET,
};

let nodeUp = false;
/** Why connections failed while a node was up: a refusal ("too many connections") or a timeout. */
const connectErrors = new Map<string, number>();

interface Provider {
  readonly identity: KeyPair;
  /** The same key for Node's crypto: one process signs for all N providers (each real one signs its own). */
  readonly key: KeyObject;
  readonly socket: Socket;
  refusals: number;
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

async function register(p: Provider): Promise<void> {
  const { challenge } = (await p.socket.emitWithAck("provider:challenge", { v: 1 })) as { challenge: string };
  const ack = (await p.socket.emitWithAck("provider:register", signedNatively(p, challenge))) as {
    ok: boolean;
    ticket?: string;
  };
  if (!ack.ok) throw new Error(`registration refused: ${JSON.stringify(ack)}`);
  p.registeredAt = performance.now();
  p.ticket = ack.ticket;
}

/** A provider that reconnects for good, saying it is returning, and registers again each time. */
function provider(url: string): Promise<Provider> {
  const socket = io(url, {
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 250,
    reconnectionDelayMax: 2_000,
    randomizationFactor: 0.5,
  });
  const identity = generateKeyPair();
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, identity.secretKey]),
    format: "der",
    type: "pkcs8",
  });
  const p: Provider = { identity, key, socket, refusals: 0, registeredAt: 0 };
  socket.on("session:offer", (_o: unknown, ack: (r: unknown) => void) => ack({ ok: false }));
  socket.on("disconnect", () => {
    socket.io.opts.query = p.ticket ? { resume: "1", ticket: p.ticket } : { resume: "1" };
  });
  socket.io.on("reconnect", () => void register(p).catch(() => socket.disconnect().connect()));
  // Counted only while a node is up: while it restarts, every attempt fails and that is no refusal.
  socket.on("connect_error", (err: Error) => {
    if (!nodeUp) return;
    p.refusals++;
    connectErrors.set(err.message, (connectErrors.get(err.message) ?? 0) + 1);
  });
  return new Promise((resolve, reject) => {
    // A challenge can expire on a swamped machine before its registration is read: ask again.
    const first = (tries: number): Promise<void> =>
      register(p).catch((err: unknown) => (tries > 1 ? first(tries - 1) : Promise.reject(err)));
    socket.once("connect", () => first(5).then(() => resolve(p), reject));
  });
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

export default async function main(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let node = await startNode(port, NO_LIMITS);
  nodeUp = true;
  const first = performance.now();
  const providers: Provider[] = [];
  for (let i = 0; i < N; i += BATCH)
    providers.push(
      ...(await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, () => provider(url)))),
    );
  const firstSeconds = (performance.now() - first) / 1000;

  const firstRefusals = providers.reduce((n, p) => n + p.refusals, 0);
  nodeUp = false;
  await node.stop();
  for (const p of providers) p.registeredAt = 0;
  const restartedAt = performance.now();
  node = await startNode(port, SMALL_BUDGET);
  nodeUp = true;
  const deadline = restartedAt + 300_000;
  while (providers.some((p) => p.registeredAt === 0) && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  const back = providers.filter((p) => p.registeredAt > 0);
  const times = back.map((p) => p.registeredAt - restartedAt).sort((a, b) => a - b);
  const refusals = providers.reduce((n, p) => n + p.refusals, 0) - firstRefusals;
  const stormSeconds = (times.at(-1) ?? Number.NaN) / 1000;

  printTable(`Reconnect storm: ${N} providers from one address, per-IP budget of 10 after the restart`, [
    {
      wave: "first registration, no limits (baseline)",
      registered: `${N}/${N}`,
      "all in s": fmt(firstSeconds, 1),
      "p50 s": "",
      "p99 s": "",
      "failed connects": firstRefusals,
    },
    {
      wave: "after a restart, with tickets, budget 10",
      registered: `${back.length}/${N}`,
      "all in s": fmt(stormSeconds, 1),
      "p50 s": fmt(percentile(times, 50) / 1000, 1),
      "p99 s": fmt(percentile(times, 99) / 1000, 1),
      "failed connects": refusals,
    },
  ]);
  console.log(`Failed connects by reason: ${JSON.stringify(Object.fromEntries(connectErrors))}`);
  // The server's own count tells a refusal from a handshake that failed for load.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const handshakes = (outcome: string) =>
    Number(
      new RegExp(`^silk_connections_total\\{outcome="${outcome}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0,
    );
  console.log(
    `The restarted node: ${handshakes("ticket")} handshakes admitted on tickets, ${handshakes("admitted")} within the per-IP budget, ${handshakes("refused")} refused.`,
  );
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
  for (const p of providers) p.socket.close();
  await node.stop();
}
