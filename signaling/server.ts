import { randomBytes } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { DirectorySubscribe, type PageConfig, PROTOCOL_VERSION, ServerHello } from "../protocol";
import { admission, clientIp } from "./admission";
import { auditEvents } from "./audit-events";
import { DEFAULT_CONFIG, type SignalingConfig } from "./config";
import type { ServerContext, SilkServer, SilkSocket } from "./context";
import { type AuditLedger, MemoryAuditLedger } from "./directory/audit-ledger";
import { marketOf, type ProviderDirectory } from "./directory/directory";
import { MemoryDirectory } from "./directory/memory-directory";
import { type AuditRedis, RedisAuditLedger } from "./directory/redis-audit-ledger";
import { RedisDirectory } from "./directory/redis-directory";
import { DIRECTORY_ROOM, DirectoryFeed } from "./directory-feed";
import type { EntryCheck } from "./entry-check";
import { errorSummary, guarded, type Listeners, listen, unknownEvents } from "./event-guard";
import { type HttpMount, httpHandler } from "./http-routes";
import { createLogger, type Logger } from "./logger";
import { signalingMetrics } from "./metrics";
import { livenessTick, NodeLiveness } from "./node-liveness";
import { dropProvider, providerEvents, sweepProviders } from "./provider-events";
import { KeyedBuckets, TokenBucket } from "./rate-limit";
import { connectRedis, type RedisConnection } from "./redis-clients";
import { fileSecret, ResumeTickets, type TicketClaim } from "./resume-tickets";
import { loadServerKey } from "./server-key";
import { endSocketSessions, sessionEvents } from "./session-events";

export interface SignalingOptions extends Partial<SignalingConfig> {
  /** Defaults to a pino logger on stdout at `logLevel`. */
  logger?: Logger;
  /** Served as `GET /api/config`: the chain the pages use (plain data; `npm start` fills it). */
  pageConfig?: PageConfig;
  /** Other HTTP APIs served on this origin under a path prefix (the devnet at `/ton` in `npm start`). */
  mounts?: readonly HttpMount[];
  /** Reads providers' Registry entries, so the server filters on the chain's stake and age (entry-check.ts). */
  entryCheck?: EntryCheck;
  /** How long a registration waits for `entryCheck` before the declared entry stands (3 s). */
  entryCheckTimeoutMs?: number;
  /** The server key's 32-byte secret (server-key.ts); unset, `serverKeyFile`'s, else a fresh one. */
  serverKey?: Uint8Array;
}

export interface SignalingServer {
  /** Listens on `host:port` (port 0 picks a free one); resolves with the bound port. */
  start(): Promise<{ port: number; url: string }>;
  /** Tells every connected party, frees their directory entries and sessions, then stops. */
  close(): Promise<void>;
  readonly config: SignalingConfig;
  readonly nodeId: string;
  readonly io: SilkServer;
  readonly httpServer: HttpServer;
  /** The provider directory in use (in memory, or Redis once started with `REDIS_URL`). */
  readonly directory: ProviderDirectory;
  /** The public key (hex) that signs this server's grants, as `GET /api/server-key` publishes it. */
  readonly serverKey: string;
}

const KNOWN_EVENTS = new Set([
  "provider:challenge",
  "provider:register",
  "provider:heartbeat",
  "provider:unregister",
  "session:request",
  "session:signal",
  "session:frame",
  "session:end",
  "directory:subscribe",
  "audit:report",
  "server:hello",
]);

export function createSignalingServer(options: SignalingOptions = {}): SignalingServer {
  const { logger, pageConfig, mounts, entryCheck, entryCheckTimeoutMs, serverKey, ...overrides } = options;
  const config: SignalingConfig = { ...DEFAULT_CONFIG, ...overrides };
  const nodeId = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const log = (logger ?? createLogger(config.logLevel)).child({ node: nodeId });
  const httpServer = createServer();
  const ownSecret =
    config.resumeSecret ??
    (config.resumeSecretFile ? fileSecret(config.resumeSecretFile) : randomBytes(32).toString("hex"));
  const grantKey = loadServerKey(serverKey, config.serverKeyFile);

  const io: SilkServer = new Server(httpServer, {
    transports: config.transports,
    maxHttpBufferSize: config.maxPacketBytes,
    serveClient: false,
    cors: config.allowedOrigins.length > 0 ? { origin: [...config.allowedOrigins] } : { origin: true },
    allowRequest: (req, callback) => gatekeeper.allowRequest(req, callback),
  });

  let redis: RedisConnection | undefined;
  let liveness: NodeLiveness | undefined;
  /** The liveness tick in progress, awaited before Redis closes. */
  let beating: Promise<void> | undefined;
  /** Disconnect cleanups in progress (they use Redis), awaited before it closes. */
  const cleanups = new Set<Promise<unknown>>();
  let directory: ProviderDirectory = new MemoryDirectory();
  let audits: AuditLedger = new MemoryAuditLedger();
  const metricsRead = {
    providers: () => ctx.localProviders.size,
    sockets: () => io.engine.clientsCount,
    sessions: () => ctx.sessionCount,
    lagSeconds: () => gatekeeper.gate.lateMs / 1000,
    backlog: () => gatekeeper.gate.backlog,
  };
  const ctx: ServerContext = {
    io,
    config,
    get directory() {
      return directory;
    },
    get audits() {
      return audits;
    },
    metrics: signalingMetrics(metricsRead),
    log,
    nodeId,
    localProviders: new Map(),
    ipRequests: new KeyedBuckets({ rate: config.ipRequestsPerSecond, burst: config.ipRequestBurst }),
    feed: new DirectoryFeed(
      {
        all: () => directory.all(),
        market: () => directory.market?.() ?? directory.all().then(marketOf),
      } as ProviderDirectory,
      (view) => io.to(DIRECTORY_ROOM).emit("directory:update", view),
      log,
    ),
    pendingOffers: new Map(),
    inNode: new Map(),
    ...(entryCheck && { entryCheck: { read: entryCheck, timeoutMs: entryCheckTimeoutMs ?? 3_000 } }),
    closing: false,
    welcomeBackUntil: Date.now() + config.reconnectWindowMs,
    tickets: new ResumeTickets(ownSecret, config.resumeTicketTtlMs),
    serverKey: grantKey,
    sessionCount: 0,
    onRegistered: () => undefined,
  };

  const gatekeeper = admission(ctx);
  ctx.onRegistered = (socket) => gatekeeper.settled(socket, true);
  httpServer.on("request", httpHandler(ctx, { pageConfig, mounts: mounts ?? [] }));
  io.use(gatekeeper.middleware);
  const wiring = socketWiring(ctx, cleanups, gatekeeper);
  io.on("connection", (socket) => onConnection(ctx, socket, wiring, gatekeeper.ticketOf(socket)));

  const timers: NodeJS.Timeout[] = [];
  let port = 0;

  async function start() {
    if (config.redisUrl) {
      const connection = await connectRedis(config, log);
      redis = connection;
      io.adapter(connection.adapter);
      const shared = new RedisDirectory(connection.data, {
        prefix: config.redisPrefix,
        entryTtlMs: config.heartbeatTimeoutMs,
        shardByModel: connection.cluster,
        onCommand: (op) => ctx.metrics.redisCommands.inc({ op }),
        onLateEnd: (session) => {
          log.warn(
            { session },
            "a session Redis did not answer for was ended late; its place was given back",
          );
          ctx.feed.changed();
        },
        onLateEndGivenUp: (session, why) =>
          log.warn(
            { session, why },
            "a session's late end was given up; its place stays taken until its record expires",
          ),
        lease: {
          node: nodeId,
          units: config.leaseUnits,
          idleMs: config.leaseIdleMs,
          backoffMs: Math.max(50, config.leaseIdleMs / 4),
          ttlMs: config.leaseTtlMs,
          onClaimMissed: (session) => log.warn({ session }, "a pooled pairing found its lease gone"),
          onLeaseError: (what, err, model) =>
            log.warn(
              { err: errorSummary(err), model },
              `lease ${what} failed; its units come back when the lease expires`,
            ),
          onExpired: (count) => log.warn({ count }, "expired leases given back"),
        },
      });
      await shared.listen(connection.subscribe, config.refusalMemoMs);
      directory = shared;
      audits = new RedisAuditLedger(connection.data as unknown as AuditRedis, config.redisPrefix);
      // Nodes sharing a Redis share a secret, so a provider moving to another node keeps its ticket.
      if (!config.resumeSecret) {
        const shared = await connection.data.set(`${config.redisPrefix}resume-secret`, ownSecret, {
          condition: "NX",
          GET: true,
        });
        if (typeof shared === "string" && shared.length >= 16)
          ctx.tickets = new ResumeTickets(shared, config.resumeTicketTtlMs);
      }
      const alive = new NodeLiveness(connection.data, config.redisPrefix, nodeId, config.nodeTtlMs);
      liveness = alive;
      await alive.beat();
      timers.push(
        setInterval(
          () => {
            if (beating || ctx.closing) return;
            beating = livenessTick(ctx, alive)
              .catch((err) => log.warn({ err: errorSummary(err) }, "liveness tick failed"))
              .finally(() => {
                beating = undefined;
              });
          },
          Math.max(50, config.nodeTtlMs / 5),
        ),
      );
    }
    const sweepMs = Math.max(50, Math.min(config.heartbeatIntervalMs, config.heartbeatTimeoutMs) / 2);
    timers.push(
      setInterval(
        () => void sweepProviders(ctx).catch((err) => log.warn({ err: errorSummary(err) }, "sweep failed")),
        sweepMs,
      ),
      setInterval(() => {
        const now = Date.now();
        ctx.ipRequests.prune(now);
        ctx.tickets.prune(now);
      }, 60_000),
    );
    for (const t of timers) t.unref();
    gatekeeper.start();
    await new Promise<void>((resolve, reject) => {
      httpServer.once("error", reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off("error", reject);
        resolve();
      });
    });
    port = (httpServer.address() as AddressInfo).port;
    log.info(
      {
        port,
        host: config.host,
        redis: redis ? (redis.cluster ? "cluster" : "one") : false,
        transports: config.transports,
        serverKey: grantKey.key,
      },
      "listening",
    );
    return { port, url: `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}` };
  }

  let closed: Promise<void> | undefined;
  function close() {
    closed ??= shutdown();
    return closed;
  }

  /**
   * Every step that uses Redis finishes before its clients close (they close last): the feed
   * publishes nothing more, the clients' sessions and entries are given back, the liveness tick in
   * flight and the disconnect cleanups the closing transports start are awaited.
   */
  async function shutdown() {
    ctx.closing = true;
    // Each step below that uses Redis fails at once while Redis is away, rather than in 5 s.
    redis?.closing();
    for (const t of timers) clearInterval(t);
    gatekeeper.stop();
    await ctx.feed.close();
    io.local.emit("server:shutdown", { v: PROTOCOL_VERSION, reason: "shutdown", reconnect: true });
    const sockets = [...io.of("/").sockets.values()];
    await Promise.all(
      sockets.map(async (s) => {
        try {
          await endSocketSessions(ctx, s, "shutdown");
          await dropProvider(ctx, s);
        } catch (err) {
          log.warn({ err: errorSummary(err) }, "shutdown cleanup failed");
        }
      }),
    );
    await flushed(sockets, config.shutdownGraceMs);
    await beating;
    await liveness
      ?.leave(config.reconnectWindowMs)
      .catch((err) => log.warn({ err: errorSummary(err) }, "leaving the node list failed"));
    // Closing the transports (not a socket.io disconnect) lets clients reconnect on their own,
    // to this address once it is back or to another node behind the same name.
    httpServer.closeAllConnections();
    await io.close().catch(() => undefined);
    await settled(cleanups, config.shutdownGraceMs);
    await directory.close();
    await redis?.close();
    log.info("closed");
  }

  return {
    start,
    close,
    config,
    nodeId,
    io,
    httpServer,
    get directory() {
      return directory;
    },
    serverKey: grantKey.key,
  };
}

/**
 * What every socket gets, made once per server: its event listeners and disconnect handling are
 * shared functions called with the socket as `this`, not closures made per connection.
 */
interface SocketWiring {
  readonly listeners: Listeners;
  readonly unknown: (this: SilkSocket, event: unknown, ...args: unknown[]) => void;
  readonly disconnecting: (this: SilkSocket) => void;
}

function socketWiring(
  ctx: ServerContext,
  cleanups: Set<Promise<unknown>>,
  gatekeeper: ReturnType<typeof admission>,
): SocketWiring {
  const subscribe = guarded(
    ctx,
    "directory:subscribe",
    { schema: DirectorySubscribe },
    async (msg, socket) => {
      if (msg.subscribe === false) socket.leave(DIRECTORY_ROOM);
      else socket.join(DIRECTORY_ROOM);
      return { ok: true, directory: await ctx.feed.snapshot() };
    },
  );
  // Once per connection (a requester's): the server key vouches for the connection's MAC key.
  const hello = guarded(ctx, "server:hello", { schema: ServerHello }, async (msg, socket) => {
    const { answer, macKey } = ctx.serverKey.hello(msg);
    socket.data.grantMacKey = macKey;
    return answer;
  });
  return {
    listeners: [...providerEvents(ctx), ...sessionEvents(ctx), ...auditEvents(ctx), subscribe, hello],
    unknown: unknownEvents(ctx, KNOWN_EVENTS),
    disconnecting(this: SilkSocket) {
      gatekeeper.settled(this, false);
      // While the node shuts down, its clients leave to move elsewhere: their peers hear "shutdown"
      // (a direct session goes on without us), not that the other party left.
      const reason = ctx.closing ? "shutdown" : "peer-disconnected";
      const cleanup = Promise.all([endSocketSessions(ctx, this, reason), dropProvider(ctx, this)])
        .catch((err) =>
          ctx.log.warn({ err: errorSummary(err), socket: this.id }, "disconnect cleanup failed"),
        )
        .finally(() => cleanups.delete(cleanup));
      cleanups.add(cleanup);
    },
  };
}

function onConnection(
  ctx: ServerContext,
  socket: SilkSocket,
  wiring: SocketWiring,
  ticket: TicketClaim | undefined,
): void {
  const { config } = ctx;
  const now = Date.now();
  socket.data = {
    ip: clientIp(socket.request, config.trustProxy),
    events: new TokenBucket({ rate: config.eventsPerSecond, burst: config.eventBurst }, now),
    requests: new TokenBucket({ rate: config.requestsPerSecond, burst: config.requestBurst }, now),
    relay: new Map(),
    ...(ticket && { ticket }),
  };
  listen(socket, wiring.listeners);
  socket.onAny(wiring.unknown);
  socket.on("disconnecting", wiring.disconnecting);
  ctx.log.debug({ socket: socket.id }, "connected");
}

/**
 * Waits (at most `maxMs`) until every socket's outgoing buffer is written, so the shutdown notices
 * queued above reach their clients before the transports close. engine.io keeps that buffer
 * private, hence the cast; if it ever disappears we merely wait one short tick.
 */
async function flushed(sockets: SilkSocket[], maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  const pending = () =>
    sockets.some((s) => ((s.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0) > 0);
  do await new Promise((r) => setTimeout(r, 10));
  while (pending() && Date.now() < deadline);
}

/** Waits (at most `maxMs`) for the promises in `pending`, which never reject. */
async function settled(pending: Set<Promise<unknown>>, maxMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise((r) => {
    timer = setTimeout(r, maxMs);
  });
  await Promise.race([Promise.all(pending), deadline]);
  clearTimeout(timer);
}

/** The `ticket` query parameter of a handshake, if any (bounded: it is checked before anything else). */
