import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient, createCluster, RedisClient as NodeRedisClient } from "redis";
import { redisUrls, type SignalingConfig } from "./config";
import type { RedisClient, Subscribe } from "./directory/redis-commands";
import { RedisUnavailableError } from "./errors";
import { errorSummary } from "./event-guard";
import type { Logger } from "./logger";
import type { LivenessClient } from "./node-liveness";
import { withDeadline } from "./redis-deadline";

/** How long any directory, liveness or audit command may wait for Redis's reply. */
const COMMAND_DEADLINE_MS = 5_000;

/** What a node needs of Redis: the socket.io adapter, the data client, and a way to close both. */
export interface RedisConnection {
  /** Redis Cluster: directory keys sharded by model, the adapter over sharded pub/sub. */
  readonly cluster: boolean;
  readonly adapter: ReturnType<typeof createAdapter> | ReturnType<typeof createShardedAdapter>;
  readonly data: RedisClient & LivenessClient;
  /** Classic pub/sub on the subscriber connection (in a cluster, PUBLISH reaches every node). */
  readonly subscribe: Subscribe;
  /**
   * The node is closing: from now on, while Redis is away (the data client not ready), its
   * commands fail at once (RedisAwayError) instead of each waiting out its deadline.
   */
  closing(): void;
  /** Closes every client (after everything that uses them has finished). */
  close(): Promise<void>;
}

/**
 * Connects to one Redis, or to a Redis Cluster when `REDIS_URL` lists several nodes
 * (comma-separated) or `REDIS_CLUSTER` is set (the URLs are then only where the topology is first
 * read; any master or replica will do). Three connections (sets of, in a cluster): publish,
 * subscribe, data.
 */
export async function connectRedis(config: SignalingConfig, log: Logger): Promise<RedisConnection> {
  const urls = redisUrls(config.redisUrl ?? "");
  const cluster = config.redisCluster || urls.length > 1;
  const pub = cluster
    ? createCluster({ rootNodes: urls.map((url) => ({ url })) })
    : createClient({ url: urls[0] });
  const sub = pub.duplicate();
  // node-redis's per-command timeout costs tens of µs a command (redis-deadline.ts): the data
  // client, on every pairing's path, gets one shared sweep instead.
  const data = pub.duplicate({ commandOptions: { timeout: 0 } });
  const clients = [pub, sub, data];
  let lastError: unknown;
  for (const c of clients)
    c.on("error", (err: unknown) => {
      lastError = err;
      log.warn({ err: errorSummary(err) }, "redis error");
    });
  await connectWithin(clients, config.redisConnectTimeoutMs, () => {
    const said = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
    return new RedisStartError(
      `Redis at ${redisHosts(urls)} did not answer within ${config.redisConnectTimeoutMs} ms (REDIS_CONNECT_TIMEOUT_MS)${said}`,
    );
  });
  const key = `${config.redisPrefix}io`;
  // Sharded pub/sub (SPUBLISH, Redis 7) in a cluster, so adapter traffic is not copied to every
  // shard. "static": one channel per namespace, so a room join always lands before the messages
  // sent to that room (per-room channels would race the subscription the join starts).
  const adapter = cluster
    ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode: "static" })
    : createAdapter(quiet(pub, ["publish"], log), quiet(sub, ["unsubscribe", "pUnsubscribe"], log), { key });
  const timed = withDeadline(data, COMMAND_DEADLINE_MS);
  return {
    cluster,
    adapter,
    data: timed.client as unknown as RedisClient & LivenessClient,
    subscribe: (channel, listener) => sub.subscribe(channel, listener),
    closing: () => timed.cutWhile(() => !data.isReady),
    close: async () => {
      timed.stop();
      await Promise.all(clients.map(closeClient));
    },
  };
}

/**
 * Redis did not answer the node's start within `REDIS_CONNECT_TIMEOUT_MS` (a closed port, an
 * address nothing answers from, a server that takes the connection and says nothing): node-redis
 * retries for ever, so a node started against such a Redis waited with no end and no word. Its
 * message names where Redis was looked for (host and port, or the socket path), never the URL's
 * password.
 */
export class RedisStartError extends RedisUnavailableError {
  override readonly name = "RedisStartError";
}

/** Where `urls` point, as `host:port` (or a unix socket's path): nothing of their credentials. */
export function redisHosts(urls: readonly string[]): string {
  return urls
    .map((url) => {
      try {
        const { socket } = NodeRedisClient.parseURL(url);
        const s = (socket ?? {}) as { host?: string; port?: number; path?: string };
        if (s.path) return s.path;
        return `${s.host ?? "localhost"}:${s.port ?? 6379}`;
      } catch {
        return "(an unreadable URL)";
      }
    })
    .join(", ");
}

/**
 * Connects every client, or gives up after `ms`: then each is destroyed (its reconnecting
 * stopped, so nothing keeps the process alive) and `failure()` is thrown.
 */
async function connectWithin(
  clients: readonly { connect(): Promise<unknown>; destroy(): void }[],
  ms: number,
  failure: () => Error,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // Destroying a client rejects its pending connect: the outcome is read here, once.
  const connected = Promise.all(clients.map((c) => c.connect())).then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  const outcome = await Promise.race([connected, late]);
  clearTimeout(timer);
  if (outcome?.ok) return;
  for (const c of clients) {
    try {
      c.destroy();
    } catch {
      // Never opened, or already closed.
    }
  }
  throw outcome ? outcome.err : failure();
}

/** How long a connected client may take to send what it has queued before it is cut. */
const CLOSE_DEADLINE_MS = 2_000;

/**
 * Closes one client: gracefully when Redis is there (what is queued is sent first, within
 * CLOSE_DEADLINE_MS), at once when it is not. node-redis's `close()` on a client still
 * reconnecting waits for Redis to come back, so a node stopped while its Redis was away never
 * finished closing. `destroy()` rejects what was queued; those callers handle their own errors.
 */
async function closeClient(client: {
  readonly isReady: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}) {
  if (client.isReady) {
    const closed = client.close().then(
      () => true,
      () => false,
    );
    const timer = new Promise<false>((r) => setTimeout(r, CLOSE_DEADLINE_MS, false).unref());
    if (await Promise.race([closed, timer])) return;
  }
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}

/**
 * The classic adapter's clients, where it sends without awaiting: a publish that fails (Redis
 * away, or late work emitting after the node closed its clients) and the unsubscribes its close
 * sends (still queued when a node stops with Redis away, and cut by `destroy()`) would be
 * unhandled rejections. They are logged instead: a message to other nodes lost, as socket.io loses
 * one whenever Redis is away. (The sharded adapter catches its own.)
 */
function quiet<C extends object>(client: C, methods: readonly string[], log: Logger): C {
  return new Proxy(client, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== "string" || !methods.includes(name) || typeof value !== "function") return value;
      return (...args: unknown[]) =>
        Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)).catch((err: unknown) =>
          log.debug({ err: errorSummary(err) }, `${name} on Redis failed`),
        );
    },
  });
}
