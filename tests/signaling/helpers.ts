import { io as connectClient, type Socket } from "socket.io-client";
import {
  encodePublicKey,
  generateKeyPair,
  type KeyPair,
  type ModelPrice,
  maxPriceToWire,
  priceToWire,
  signQuote,
  signRegistration,
} from "../../protocol";
import type { ProviderState } from "../../signaling/directory/directory";
import { createLogger } from "../../signaling/logger";
import { createSignalingServer, type SignalingOptions, type SignalingServer } from "../../signaling/server";

export const PAYOUT = `0:${"ab".repeat(32)}`;

/** A logger that keeps every line, so tests can read what the server would have logged. */
export function captureLogger(level = "debug") {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const open: { servers: SignalingServer[]; sockets: Socket[] } = { servers: [], sockets: [] };

export async function startServer(options: SignalingOptions = {}) {
  const server = createSignalingServer({
    port: 0,
    host: "127.0.0.1",
    logger: options.logger ?? createLogger("silent"),
    ...options,
  });
  open.servers.push(server);
  const { url, port } = await server.start();
  return { server, url, port };
}

export function connect(
  url: string,
  opts: { reconnection?: boolean; query?: Record<string, string> } = {},
): Promise<Socket> {
  const socket = connectClient(url, {
    transports: ["websocket"],
    forceNew: true,
    ...(opts.query && { query: opts.query }),
    reconnection: opts.reconnection ?? false,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
  });
  open.sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** Dials once and hangs up: whether the node admitted the connection (closed by `cleanup` too). */
export function admitted(url: string, query?: Record<string, string>): Promise<boolean> {
  return connect(url, query && { query }).then(
    (socket) => {
      socket.close();
      return true;
    },
    () => false,
  );
}

/** Closes every socket and server the test opened. */
export async function cleanup(): Promise<void> {
  for (const s of open.sockets.splice(0)) s.disconnect();
  await Promise.all(open.servers.splice(0).map((s) => s.close()));
}

export function call<T = Record<string, unknown>>(
  socket: Socket,
  event: string,
  payload: unknown,
): Promise<T> {
  return socket.timeout(5_000).emitWithAck(event, payload) as Promise<T>;
}

export function next<T = Record<string, unknown>>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, (msg: T) => resolve(msg)));
}

export const flat = (nano: bigint): ModelPrice => ({
  nanoPerToken: nano,
  promptMultiplierBps: 10_000,
  completionMultiplierBps: 10_000,
});

/** Far enough on for any test run. */
const QUOTE_EXPIRES_AT = Date.now() + 24 * 60 * 60 * 1000;

export interface ProviderSpec {
  identity?: KeyPair;
  models?: { model: string; price: ModelPrice }[];
  capacity?: number;
  /** How the provider answers offers: accept (default), refuse, or stay silent. */
  answer?: "accept" | "refuse" | "silent";
  /** When its signed quotes run out (default: a day on). */
  quoteExpiresAt?: number;
  /** Where its receipts pay (default: PAYOUT). */
  payout?: string;
}

/** Builds a signed registration for `challenge`. */
export function signedRegistration(identity: KeyPair, challenge: string, spec: ProviderSpec = {}) {
  const body = registrationBody(identity, challenge, spec);
  return { ...body, signature: signRegistration(identity.secretKey, challenge, body) };
}

/** A registration for `challenge`, still to be signed. */
export function registrationBody(identity: KeyPair, challenge: string, spec: ProviderSpec = {}) {
  const expiresAt = spec.quoteExpiresAt ?? QUOTE_EXPIRES_AT;
  const payout = spec.payout ?? PAYOUT;
  return {
    v: 1 as const,
    identityKey: encodePublicKey(identity.publicKey),
    challenge,
    payout,
    // Each model's quote signed as a real provider signs it, so an SDK requester takes the grant.
    models: (spec.models ?? [{ model: "m1", price: flat(10n) }]).map((m) => ({
      model: m.model,
      price: priceToWire(m.price),
      quote: {
        expiresAt,
        signature: signQuote(identity.secretKey, {
          identityKey: encodePublicKey(identity.publicKey),
          payout,
          model: m.model,
          price: m.price,
          expiresAt,
        }),
      },
    })),
    capacity: spec.capacity ?? 1,
    device: { adapter: "test", memoryMB: 1024 },
  };
}

export interface TestProvider {
  socket: Socket;
  identity: KeyPair;
  identityKey: string;
  offers: Record<string, unknown>[];
}

/** Connects, answers offers as told, and registers (again after every reconnect, as a tab must). */
export async function provider(url: string, spec: ProviderSpec = {}, opts: { reconnection?: boolean } = {}) {
  const socket = await connect(url, opts);
  const identity = spec.identity ?? generateKeyPair();
  const p: TestProvider = { socket, identity, identityKey: encodePublicKey(identity.publicKey), offers: [] };
  socket.on("session:offer", (offer: Record<string, unknown>, ack: (r: unknown) => void) => {
    p.offers.push(offer);
    if (spec.answer === "silent") return;
    ack(spec.answer === "refuse" ? { ok: false, reason: "busy" } : { ok: true });
  });
  await register(socket, identity, spec);
  socket.io.on("reconnect", () => void register(socket, identity, spec).catch(() => undefined));
  return p;
}

export async function register(socket: Socket, identity: KeyPair, spec: ProviderSpec = {}) {
  const { challenge } = await call<{ challenge: string }>(socket, "provider:challenge", { v: 1 });
  const ack = await call<{ ok: boolean }>(
    socket,
    "provider:register",
    signedRegistration(identity, challenge, spec),
  );
  if (!ack.ok) throw new Error(`registration refused: ${JSON.stringify(ack)}`);
  return ack;
}

export function requestBody(model = "m1", maxNano = 100n, exclude?: string[]) {
  return {
    v: 1,
    model,
    maxPrice: maxPriceToWire({ promptNanoPerToken: maxNano, completionNanoPerToken: maxNano }),
    sessionKey: encodePublicKey(generateKeyPair().publicKey),
    ...(exclude ? { exclude } : {}),
  };
}

export interface Granted {
  ok: true;
  sessionId: string;
  provider: { identityKey: string; payout: string; price: Record<string, unknown> };
  iceServers: unknown[];
}
export interface Refused {
  ok: false;
  error: { code: string; message: string };
}

export function requestSession(socket: Socket, body: unknown = requestBody()) {
  return call<Granted | Refused>(socket, "session:request", body);
}

/**
 * Follows a grant through the server's failover: `session:moved` events until the session runs
 * with a provider in `accepting` (which will take it), or `session:ended` says nobody did.
 * Returns the last grant (or the refusal) and every provider the session passed through.
 */
export function followMoves(
  socket: Socket,
  first: Granted | Refused,
  accepting: readonly string[],
  timeoutMs = 5_000,
): Promise<{ final: Granted | Refused; path: string[] }> {
  if (!first.ok) return Promise.resolve({ final: first, path: [] });
  const path = [first.provider.identityKey];
  if (accepting.includes(first.provider.identityKey)) return Promise.resolve({ final: first, path });
  return new Promise((resolve, reject) => {
    let current = first.sessionId;
    const timer = setTimeout(() => {
      done();
      reject(new Error(`session still moving after ${timeoutMs} ms: ${path.join(" → ")}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.off("session:moved", onMoved);
      socket.off("session:ended", onEnded);
    };
    const onMoved = (m: { sessionId: string; to: Granted }) => {
      if (m.sessionId !== current) return;
      current = m.to.sessionId;
      path.push(m.to.provider.identityKey);
      if (!accepting.includes(m.to.provider.identityKey)) return;
      done();
      resolve({ final: m.to, path });
    };
    const onEnded = (m: { sessionId: string; error?: Refused["error"] }) => {
      if (m.sessionId !== current) return;
      done();
      resolve({ final: { ok: false, error: m.error ?? { code: "ENDED", message: "ended" } }, path });
    };
    socket.on("session:moved", onMoved);
    socket.on("session:ended", onEnded);
  });
}

/** A provider as the directory keeps it: one model (`m1` at 10 nanoTON a token unless told), idle. */
export function providerState(
  key: string,
  over: Partial<ProviderState> & { price?: ModelPrice; model?: string } = {},
): ProviderState {
  const { price = flat(10n), model = "m1", ...rest } = over;
  return {
    identityKey: key,
    socketId: `sock-${key}`,
    payout: PAYOUT,
    models: [{ model, price }],
    capacity: 1,
    device: {},
    registeredAt: 0,
    load: 0,
    active: 0,
    failures: 0,
    lastFailureAt: 0,
    lastAssignedAt: 0,
    seenAt: 0,
    ...rest,
  };
}
