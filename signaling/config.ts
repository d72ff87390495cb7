import { RedisClient } from "redis";
import * as v from "valibot";
import type { IceServer } from "../protocol";
import { IceServer as IceServerSchema, parseWith } from "../protocol";

/** Everything the server can be told. Defaults suit one process on a laptop or a LAN. */
export interface SignalingConfig {
  port: number;
  host: string;
  /**
   * With it, the directory and socket.io rooms live in Redis and several processes share them.
   * Several comma-separated URLs mean a Redis Cluster (the nodes the topology is first read from).
   */
  redisUrl: string | undefined;
  /** A Redis Cluster even when `redisUrl` names one node. */
  redisCluster: boolean;
  redisPrefix: string;
  /**
   * With Redis: how long a node's start waits for Redis to answer before it gives up
   * (`RedisStartError`, naming the host); node-redis alone retries for ever.
   */
  redisConnectTimeoutMs: number;
  iceServers: IceServer[];
  /** Browser origins allowed to connect; empty allows any. Clients without an Origin header are always allowed. */
  allowedOrigins: string[];
  /** WebSocket only unless your load balancer has sticky sessions (polling needs them across nodes). */
  transports: ("websocket" | "polling")[];
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  staticDir: string | undefined;
  heartbeatIntervalMs: number;
  /** A provider silent for this long is removed (background tabs are throttled: keep it generous). */
  heartbeatTimeoutMs: number;
  challengeTtlMs: number;
  offerTimeoutMs: number;
  maxOfferAttempts: number;
  failureWindowMs: number;
  /**
   * A provider whose signed quote for a model has less than this left is not offered for it (a
   * requester whose clock runs ahead would read the grant as forged), and the sweep removes it and
   * tells it, so it registers again with fresh quotes (providers renew halfway through anyway).
   */
  quoteMarginMs: number;
  eventsPerSecond: number;
  eventBurst: number;
  requestsPerSecond: number;
  requestBurst: number;
  ipConnectionsPerMinute: number;
  ipConnectionBurst: number;
  /**
   * For this long after the node starts, after it sees another node die, and after each valid
   * ticket arrives (a storm still arriving keeps it open), providers that
   * return with a valid resume ticket (`?ticket=`, as `peer/` clients do after losing a
   * connection) are admitted past the per-IP connection limit, up to `ipReconnectBurst` per
   * address: a restart brings every client back at once, many from one address behind a NAT.
   */
  reconnectWindowMs: number;
  ipReconnectBurst: number;
  /**
   * Signs resume tickets (resume-tickets.ts); give every node the same one so any node takes
   * another's tickets. Unset: shared through Redis when there is one, else `resumeSecretFile`'s.
   */
  resumeSecret: string | undefined;
  /** Where a node without `resumeSecret` keeps its own (made on first start); unset: in memory only. */
  resumeSecretFile: string | undefined;
  /**
   * Where the server's Ed25519 key is kept (made on first start, mode 600): it signs every grant,
   * and requesters pin its public key (`GET /api/server-key`). Give every node sharing a directory
   * the same file. Unset: a fresh key per start, in memory (requesters then learn it on first use).
   */
  serverKeyFile: string | undefined;
  /** A resume ticket's life; a registered provider's is renewed through its heartbeat acks. */
  resumeTicketTtlMs: number;
  /**
   * A node whose event loop runs this late (ms, smoothed) turns new connections away at once
   * with `OVERLOADED` and a time to come back, instead of letting them time out (0: never).
   */
  overloadLagMs: number;
  /** Returning providers (on a ticket) let in to register at once, whatever the node's pace. */
  overloadMinPending: number;
  /** Past that, as many as the node registers in this long (ms); the rest are told when to come back (0: no backlog limit). */
  overloadDrainMs: number;
  ipRequestsPerSecond: number;
  ipRequestBurst: number;
  relayBytesPerSecond: number;
  relayFramesPerSecond: number;
  /** Largest socket.io packet in bytes; larger ones close the connection (ws maxPayload). */
  maxPacketBytes: number;
  /** On shutdown, how long to wait at most for the notices to reach clients before closing. */
  shutdownGraceMs: number;
  /**
   * With Redis: a node that has not renewed its liveness key for this long is dead, and the
   * others drop its providers and end its sessions (renewed every fifth of it).
   */
  nodeTtlMs: number;
  /**
   * With Redis: units of capacity per model this node leases ahead of demand, so a pairing
   * reserves locally with no Redis round trip before the grant (0: every pairing asks Redis).
   */
  leaseUnits: number;
  /** A model's leased units no pairing took for this long are given back. */
  leaseIdleMs: number;
  /**
   * A lease not renewed for this long (the node renews what it holds several times within it)
   * expires and is given back by any leasing node: a lost give-back holds capacity no longer.
   */
  leaseTtlMs: number;
  /**
   * With Redis: how long a node answers NO_MODEL and PRICE_TOO_LOW from what Redis last told it
   * (registrations anywhere undo it at once; this bounds what departures leave stale). 0: ask Redis.
   */
  refusalMemoMs: number;
  /**
   * How far past what is live V8 lets the process's heap grow before its next full collection, in
   * percent (heap-growth.ts); 0 leaves it to V8. Applied by the programs that run a node
   * (`npm run signaling`, `npm start`), not by `createSignalingServer`: it is the process's.
   */
  heapGrowthPercent: number;
  logLevel: string;
}

export const DEFAULT_CONFIG: SignalingConfig = {
  port: 8787,
  host: "0.0.0.0",
  redisUrl: undefined,
  redisCluster: false,
  redisPrefix: "silk:",
  redisConnectTimeoutMs: 10_000,
  iceServers: [],
  allowedOrigins: [],
  transports: ["websocket"],
  trustProxy: false,
  staticDir: undefined,
  heartbeatIntervalMs: 20_000,
  heartbeatTimeoutMs: 120_000,
  challengeTtlMs: 30_000,
  offerTimeoutMs: 10_000,
  maxOfferAttempts: 3,
  failureWindowMs: 120_000,
  quoteMarginMs: 60_000,
  eventsPerSecond: 50,
  eventBurst: 200,
  requestsPerSecond: 2,
  requestBurst: 10,
  ipConnectionsPerMinute: 120,
  ipConnectionBurst: 60,
  reconnectWindowMs: 60_000,
  ipReconnectBurst: 20_000,
  resumeSecret: undefined,
  resumeSecretFile: undefined,
  serverKeyFile: undefined,
  resumeTicketTtlMs: 600_000,
  // Off: measured, the refusal reached a swamped node's clients later than their own deadlines
  // (README, "A swamped node says so").
  overloadLagMs: 0,
  overloadMinPending: 1_000,
  overloadDrainMs: 0,
  ipRequestsPerSecond: 20,
  ipRequestBurst: 60,
  relayBytesPerSecond: 1024 * 1024,
  relayFramesPerSecond: 200,
  maxPacketBytes: 100 * 1024,
  shutdownGraceMs: 2_000,
  nodeTtlMs: 5_000,
  leaseUnits: 16,
  leaseIdleMs: 2_000,
  leaseTtlMs: 10_000,
  refusalMemoMs: 1_000,
  // V8 picked 1.15-1.6x for a node at 1,000 pairings/s, so a full collection every ~5 s; 2x cut
  // them to a third and the Redis p99 at 1,000/s from 11.1 to 4.9 ms (median of 5 alternated
  // benches; README, run X). Memory: the heap peaks at twice what is live, not 1.6x.
  heapGrowthPercent: 100,
  logLevel: "info",
};

type Key = keyof SignalingConfig;

export const NUMBER_KEYS = (Object.keys(DEFAULT_CONFIG) as Key[]).filter(
  (k) => typeof DEFAULT_CONFIG[k] === "number",
);

/** The settings that are not numbers, by their environment name, each read in `loadConfig`. */
export const TEXT_SETTINGS = [
  "HOST",
  "REDIS_URL",
  "REDIS_CLUSTER",
  "REDIS_PREFIX",
  "STATIC_DIR",
  "LOG_LEVEL",
  "RESUME_SECRET",
  "RESUME_SECRET_FILE",
  "SERVER_KEY_FILE",
  "TRUST_PROXY",
  "ALLOWED_ORIGINS",
  "TRANSPORTS",
  "ICE_SERVERS",
  "STUN_URLS",
  "TURN_URLS",
  "TURN_USERNAME",
  "TURN_CREDENTIAL",
] as const;

/** Every setting a flag may name (`--redis-url` is `REDIS_URL`): another flag is refused by name. */
const SETTINGS: ReadonlySet<string> = new Set([...NUMBER_KEYS.map(envName), ...TEXT_SETTINGS]);

/** `REDIS_URL` → `--redis-url`. */
export const flagName = (setting: string) => `--${setting.toLowerCase().replace(/_/g, "-")}`;

/** `heartbeatTimeoutMs` → `HEARTBEAT_TIMEOUT_MS`; the flag is `--heartbeat-timeout-ms`. */
export function envName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Reads `env` (variables named by `envName`) and then `argv` flags (`--port 9000` or
 * `--port=9000`), flags winning. ICE servers come from `ICE_SERVERS` (a JSON array of
 * RTCIceServer) or from `STUN_URLS` / `TURN_URLS` (comma-separated) with `TURN_USERNAME` and
 * `TURN_CREDENTIAL`.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  argv: readonly string[] = [],
): SignalingConfig {
  const vars: Record<string, string | undefined> = { ...env, ...flagsToEnv(argv) };
  const config: SignalingConfig = { ...DEFAULT_CONFIG };
  for (const key of NUMBER_KEYS) {
    const text = vars[envName(key)];
    if (text === undefined || text === "") continue;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${envName(key)} must be a non-negative number`);
    (config[key] as number) = n;
  }
  if (!Number.isInteger(config.port) || config.port > 65_535)
    throw new ConfigError("PORT must be a whole number from 0 to 65535");
  // V8 grows a heap by at most 4x (300%) however it is asked.
  if (!Number.isInteger(config.heapGrowthPercent) || config.heapGrowthPercent > 300)
    throw new ConfigError("HEAP_GROWTH_PERCENT must be a whole number from 0 to 300");
  if (vars.HOST) config.host = vars.HOST;
  if (vars.REDIS_URL) config.redisUrl = checkedRedisUrl(vars.REDIS_URL);
  if (vars.REDIS_PREFIX) config.redisPrefix = vars.REDIS_PREFIX;
  if (vars.STATIC_DIR) config.staticDir = vars.STATIC_DIR;
  if (vars.LOG_LEVEL) config.logLevel = vars.LOG_LEVEL;
  if (vars.RESUME_SECRET !== undefined && vars.RESUME_SECRET !== "") {
    if (vars.RESUME_SECRET.trim().length < 16)
      throw new ConfigError("RESUME_SECRET must be at least 16 characters");
    config.resumeSecret = vars.RESUME_SECRET;
  }
  // A node run from the command line keeps its secret across restarts, so its tickets outlive them.
  config.resumeSecretFile = vars.RESUME_SECRET_FILE || ".silk/resume-secret";
  // And its key, so a requester's pin outlives a restart.
  config.serverKeyFile = vars.SERVER_KEY_FILE || ".silk/server-key";
  if (vars.TRUST_PROXY) config.trustProxy = vars.TRUST_PROXY === "true" || vars.TRUST_PROXY === "1";
  if (vars.REDIS_CLUSTER) config.redisCluster = vars.REDIS_CLUSTER === "true" || vars.REDIS_CLUSTER === "1";
  if (vars.ALLOWED_ORIGINS) config.allowedOrigins = list(vars.ALLOWED_ORIGINS);
  if (vars.TRANSPORTS) {
    const t = list(vars.TRANSPORTS);
    if (t.length === 0 || t.some((x) => x !== "websocket" && x !== "polling")) {
      throw new ConfigError("TRANSPORTS is a comma-separated list of websocket, polling");
    }
    config.transports = t as ("websocket" | "polling")[];
  }
  config.iceServers = iceServers(vars);
  return config;
}

/** The URLs REDIS_URL lists (one, or several for a cluster): comma-separated, blanks dropped. */
export function redisUrls(text: string): string[] {
  return text
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean);
}

/**
 * REDIS_URL as node-redis will read it (one URL, or several for a cluster), checked here with
 * node-redis's own parser (`RedisClient.parseURL`, which `createClient` and `createCluster` call):
 * a URL it refuses threw a TypeError (an `Invalid URL` whose `input`, the whole URL with its
 * password, Node printed on stderr; or `Invalid unix URL`, `Invalid pathname`, `Invalid db query
 * parameter`, `URI malformed`) that ended the program with a stack trace. A database (the redis:
 * path, the unix: `?db=`) must also be a whole number: node-redis takes `1.5` and SELECT refuses
 * it at every connect. Refused by the place it stands in the list, its text never repeated.
 */
function checkedRedisUrl(text: string): string {
  const urls = redisUrls(text);
  if (urls.length === 0) throw new ConfigError("REDIS_URL names no URL");
  urls.forEach((u, i) => {
    const which = urls.length > 1 ? `REDIS_URL's URL ${i + 1} of ${urls.length}` : "REDIS_URL";
    let database: number | undefined;
    try {
      ({ database } = RedisClient.parseURL(u));
    } catch {
      throw new ConfigError(
        `${which} is not a redis://, rediss:// or unix:/// URL as node-redis reads them (not repeated here: it may hold a password)`,
      );
    }
    if (database !== undefined && !(Number.isSafeInteger(database) && database >= 0))
      throw new ConfigError(
        `${which} names a database that is not a whole number (the URL is not repeated here)`,
      );
  });
  return text;
}

function iceServers(vars: Record<string, string | undefined>): IceServer[] {
  if (vars.ICE_SERVERS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(vars.ICE_SERVERS);
    } catch {
      throw new ConfigError("ICE_SERVERS must be a JSON array of RTCIceServer objects");
    }
    try {
      return parseWith(v.pipe(v.array(IceServerSchema), v.maxLength(16)), parsed, "ICE_SERVERS");
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const out: IceServer[] = [];
  if (vars.STUN_URLS) out.push({ urls: list(vars.STUN_URLS) });
  if (vars.TURN_URLS) {
    out.push({
      urls: list(vars.TURN_URLS),
      username: vars.TURN_USERNAME ?? "",
      credential: vars.TURN_CREDENTIAL ?? "",
    });
  }
  return out;
}

function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--"))
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg.slice(0, 40))}`);
    const eq = arg.indexOf("=");
    const name = (eq > 0 ? arg.slice(2, eq) : arg.slice(2)).replace(/-/g, "_").toUpperCase();
    // A misspelt flag would otherwise be read as a setting nobody reads, and silently do nothing.
    if (!SETTINGS.has(name))
      throw new ConfigError(
        `unknown flag ${JSON.stringify(arg.slice(0, eq > 0 ? eq : 60))}; --help lists them`,
      );
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${flagName(name)} needs a value`);
    out[name] = value;
  }
  return out;
}

function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
