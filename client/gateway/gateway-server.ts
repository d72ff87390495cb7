import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MAX_SESSION_MESSAGE_BYTES } from "../../protocol";
import { followAbort } from "../sdk/abort-link";
import type { SilkClient } from "../sdk/silk-client";
import { type GatewayLogger, logExchange, silentLogger } from "./access-log";
import { corsHeaders, preflightHeaders, refusedContentType, refusedOrigin } from "./browser-guard";
import { parseChatBody } from "./chat-body";
import { parseEmbedBody } from "./embed-body";
import { checkKeepAliveMs, KEEP_ALIVE_MS, keepAliveUntil, startEventStream } from "./event-stream";
import { GatewayShutdown, shuttingDown } from "./gateway-shutdown";
import { forModel, HttpError, invalidRequest, modelNotFound, toHttpError } from "./http-errors";
import { ItemMemory, REMEMBERED_ITEMS } from "./item-memory";
import { notServed } from "./not-served";
import { readBody } from "./read-body";
import { ResponseEvents, wholeResponse } from "./responses-answer";
import { asResponsesParam, parseResponsesBody } from "./responses-body";

/**
 * A local OpenAI-compatible HTTP server backed by the SDK, so any OpenAI client library can use
 * the network: POST /v1/chat/completions (SSE streaming and not), POST /v1/responses (text, the same
 * chat request in the Responses API's shapes), POST /v1/embeddings, GET /v1/models and
 * /v1/models/{id}, errors in OpenAI's shape with OpenAI's statuses, an `x-request-id` on every
 * response. It listens on loopback by default: whoever can reach it spends your escrow.
 *
 * A non-streamed answer is written whole once it is done, so every refusal carries its own status.
 * A streamed one waits `keepAliveMs` for its first event (a refusal within it keeps its status);
 * then the stream opens and says it is alive every `keepAliveMs` until that event comes
 * (event-stream.ts), so a proxy's read timeout does not cut a slow first token. A failure after
 * the stream opened is an `error` event in OpenAI's shape, never a stream that merely stops.
 */
export interface GatewayOptions {
  readonly client: SilkClient;
  readonly port?: number;
  readonly host?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** One line per request (access-log.ts): pino's logger fits; silent when omitted. */
  readonly log?: GatewayLogger;
  /**
   * A streamed answer's keep-alive interval before its first event (default `KEEP_ALIVE_MS`, 15 s);
   * outside 100 ms to 2^31 - 1 ms (a timer would spin: 0, NaN, Infinity), `startGateway` refuses
   * it with a KeepAliveIntervalError.
   */
  readonly keepAliveMs?: number;
  /**
   * How many of its own Responses answers' output items it keeps in memory (for an hour at most)
   * to resolve a later request's `item_reference` (item-memory.ts); default `REMEMBERED_ITEMS`, 1,000.
   */
  readonly rememberedItems?: number;
}

/** What went wrong with a response, recorded where it happened (before or after its headers). */
const failures = new WeakMap<ServerResponse, { http: HttpError; cause: unknown }>();

function fail(res: ServerResponse, cause: unknown): HttpError {
  const http = toHttpError(cause);
  failures.set(res, { http, cause });
  return http;
}

export interface Gateway {
  readonly url: string;
  /**
   * Stops taking connections, lets answers in flight finish for `graceMs` (default 0), then ends
   * each one left with a 503 `shutting_down` (an `error` event in a stream already started).
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** What a request's handler works with: the options and the gateway's stop. */
interface Ctx {
  readonly o: GatewayOptions;
  readonly shut: GatewayShutdown;
  /** Its own Responses answers' items, for a later request's `item_reference`. */
  readonly items: ItemMemory;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  if (o.keepAliveMs !== undefined) checkKeepAliveMs(o.keepAliveMs);
  const log = o.log ?? silentLogger;
  const shut = new GatewayShutdown();
  const items = new ItemMemory(o.rememberedItems ?? REMEMBERED_ITEMS);
  const server: Server = createServer((req, res) => {
    const requestId = `req_${randomBytes(12).toString("hex")}`;
    const startedAt = performance.now();
    res.setHeader("x-request-id", requestId);
    if (refusedOrigin(req.headers) === undefined)
      for (const [name, value] of Object.entries(corsHeaders(req.headers))) res.setHeader(name, value ?? "");
    res.on("close", () => {
      const failure = failures.get(res);
      logExchange(log, req, res, { requestId, startedAt, ...(failure && { failure }) });
    });
    shut.track(res);
    if (shut.closing) {
      // A request on a connection kept alive while the gateway drains: refused, and the connection closed.
      res.setHeader("connection", "close");
      return sendError(res, fail(res, shuttingDown()));
    }
    handle({ o, shut, items }, req, res).catch((err: unknown) => sendError(res, fail(res, err)));
  });
  // Idle keep-alive connections outlive clients' own idle timeouts (undici's 4 s, Python's longer),
  // so the server never closes one just as a client sends on it (a reset, not an answer).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // A deep accept queue: a burst of a thousand clients connecting at once is answered, not reset
  // (Node's default backlog is 511).
  // A port taken rejects here (the caller says so), rather than as an uncaught 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: o.port ?? 0, host: o.host ?? "127.0.0.1", backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? "127.0.0.1"}:${port}/v1`,
    close: (opts) => shut.close(server, opts?.graceMs ?? 0),
  };
}

async function handle(ctx: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { o } = ctx;
  const forged = refusedOrigin(req.headers);
  if (forged) {
    await readBody(req, MAX_SESSION_MESSAGE_BYTES).catch(() => undefined); // answered, not reset
    throw forged;
  }
  // A page on this machine asks before it sends JSON or a key: the only request let in unauthenticated.
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
    res.writeHead(204, preflightHeaders(req.headers));
    res.end();
    return;
  }
  // The scheme is case-insensitive (RFC 9110): `bearer KEY` is the same credential.
  const credential = (req.headers.authorization ?? "").replace(/^bearer /i, "Bearer ");
  if (o.apiKey && !sameSecret(credential, `Bearer ${o.apiKey}`)) {
    // RFC 9110 §11.6.1 and RFC 6750 §3: a 401 names the scheme; `invalid_token` when one was sent.
    const sent = credential.startsWith("Bearer ") ? ', error="invalid_token"' : "";
    res.setHeader("www-authenticate", `Bearer realm="silk-gateway"${sent}`);
    throw new HttpError(401, "invalid_request_error", "invalid_api_key", "missing or wrong API key");
  }
  const path = routeOf(req.url);
  // HEAD is GET without the body (RFC 9110 §9.3.2; Node leaves the body out of a HEAD's answer).
  const reading = req.method === "GET" || req.method === "HEAD";
  if (reading && path === "/v1/models") return sendJson(res, 200, await o.client.models.list());
  if (reading && path.startsWith("/v1/models/")) return model(o, path, res);
  if (req.method === "POST" && path === "/v1/chat/completions") return completions(ctx, req, res);
  if (req.method === "POST" && path === "/v1/embeddings") return embeddings(ctx, req, res);
  if (req.method === "POST" && path === "/v1/responses") return responses(ctx, req, res);
  const allowed = path.startsWith("/v1/models/") ? READ : METHODS[path];
  // OPTIONS that is no CORS preflight (answered above) asks which methods the route takes.
  if (allowed && req.method === "OPTIONS") {
    res.writeHead(204, { allow: allowed });
    res.end();
    return;
  }
  if (allowed) {
    res.setHeader("allow", allowed);
    throw new HttpError(
      405,
      "invalid_request_error",
      "method_not_allowed",
      `${req.method} ${path}: use ${allowed}`,
    );
  }
  const unserved = notServed(path);
  if (unserved) throw unserved;
  // A base URL set without its /v1 (OPENAI_BASE_URL=http://127.0.0.1:8788) is the commonest slip.
  const meant = METHODS[`/v1${path}`]
    ? ` (did you mean /v1${path}? the base URL ends in /v1)`
    : path === "/" || path === "/v1"
      ? ": this is Silk's OpenAI-compatible gateway; point an OpenAI client's base URL at /v1 (GET /v1/models lists the models)"
      : "";
  throw new HttpError(
    404,
    "invalid_request_error",
    "not_found",
    `no route for ${req.method} ${path}${meant}`,
  );
}

/**
 * The route a request's target names: repeated slashes merged (a base URL ending in "/" joined by
 * hand, `…/v1/` + `/chat/completions`; nginx merges them too, and `//v1/…` was read as a URL's
 * host), a trailing slash dropped, the query left out. An absolute target (from a proxy) by its path.
 */
function routeOf(target = "/"): string {
  const merged = target.startsWith("/")
    ? target.replace(/^[^?#]*/, (p) => p.replace(/\/{2,}/g, "/"))
    : target;
  return new URL(merged, "http://x").pathname.replace(/\/+$/, "") || "/";
}

/** What a route read with GET also takes: HEAD, the same answer without its body. */
const READ = "GET, HEAD";

/** The methods each served route takes: another is 405 with `Allow`, not "no route". */
const METHODS: Readonly<Record<string, string>> = {
  "/v1/models": READ,
  "/v1/chat/completions": "POST",
  "/v1/embeddings": "POST",
  "/v1/responses": "POST",
};

async function model(o: GatewayOptions, path: string, res: ServerResponse): Promise<void> {
  let id: string;
  try {
    id = decodeURIComponent(path.slice("/v1/models/".length));
  } catch {
    throw invalidRequest("invalid_value", "the model id is not valid URL encoding", "model");
  }
  const found = (await o.client.models.list()).data.find((m) => m.id === id);
  if (!found) throw modelNotFound(id, `no provider serves ${id}`);
  sendJson(res, 200, found);
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const notJson = refusedContentType(req.headers);
  // Read to its end either way (answered, not reset); what the body was declared as decides first.
  const raw = await readBody(req, MAX_SESSION_MESSAGE_BYTES).catch((err: unknown) => {
    throw notJson ?? err;
  });
  if (notJson) throw notJson;
  try {
    return JSON.parse(raw);
  } catch {
    throw invalidRequest("invalid_json", "the body is not valid JSON");
  }
}

/**
 * Aborted when the caller goes away before the answer is written, or the gateway cuts it. Not
 * `AbortSignal.any` with the gateway's stop: Node keeps a WeakRef to each such signal on the stop's
 * signal for as long as that lives, one a request for the gateway's life. The listener on the stop
 * goes when the response closes.
 */
function callerGone(res: ServerResponse, shut: GatewayShutdown): AbortSignal {
  const abort = new AbortController();
  const unlink = followAbort(shut.signal, () => abort.abort(shut.signal.reason));
  res.on("close", () => {
    unlink();
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

async function embeddings({ o, shut }: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const params = parseEmbedBody(await jsonBody(req));
  const named = (err: unknown) => Promise.reject(forModel(params.model, err));
  sendJson(
    res,
    200,
    await shut.race(o.client.embeddings.create({ ...params, signal: callerGone(res, shut) }).catch(named)),
  );
}

async function completions({ o, shut }: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { params, stream } = parseChatBody(await jsonBody(req));
  const signal = callerGone(res, shut);
  const named = (err: unknown) => Promise.reject(forModel(params.model, err));
  if (!stream)
    return sendJson(
      res,
      200,
      await shut.race(o.client.chat.completions.create({ ...params, signal }).catch(named)),
    );

  // Headers are gone once the stream opened: an `error` object in a `data:` line, as OpenAI's own
  // chat stream sends it (no `event:` line, so a client reading only `data:` lines reads it too).
  const failed = (err: unknown) => res.write(`data: ${JSON.stringify(fail(res, err).body())}\n\n`);
  await streamed(res, failed, async () => {
    // Resolves at the answer's first event: a refusal before the stream opened is a status of its own.
    const chunks = await keepAliveUntil(
      res,
      shut.race(o.client.chat.completions.create({ ...params, signal, stream: true }).catch(named)),
      o.keepAliveMs ?? KEEP_ALIVE_MS,
      () => startEventStream(res),
    );
    if (!res.headersSent) startEventStream(res);
    for await (const chunk of shut.until(chunks)) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    res.write("data: [DONE]\n\n");
  });
}

/**
 * Runs a streamed answer: an error before its stream opened is thrown (a status of its own), one
 * after it is written into the stream by `failed`; the response ends either way.
 */
async function streamed(
  res: ServerResponse,
  failed: (err: unknown) => void,
  run: () => Promise<void>,
): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!res.headersSent) throw err;
    failed(err);
  }
  res.end();
}

/** The Responses API for text (responses-body.ts): the same chat request, in its shapes and events. */
async function responses({ o, shut, items }: Ctx, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { params, stream, echo, sources } = parseResponsesBody(await jsonBody(req), items);
  const signal = callerGone(res, shut);
  const meta = {
    id: `resp_${randomBytes(12).toString("hex")}`,
    model: params.model,
    createdAt: Math.floor(Date.now() / 1000),
    ...echo,
  };
  // A refusal naming a chat field names it as the Responses API does, before the answer's first
  // chunk or after it, whole or streamed; others keep their cause.
  const renamed = (err: unknown): unknown => {
    const http = forModel(params.model, err);
    return http.param ? asResponsesParam(http, sources) : err;
  };
  // The chat answer is streamed either way: a whole response is what the streamed one ends with.
  const chat = () =>
    shut.race(
      o.client.chat.completions
        .create({ ...params, signal, stream: true, stream_options: { include_usage: true } })
        .then(
          (chunks) => failingAs(renamed, chunks),
          (err: unknown) => Promise.reject(renamed(err)),
        ),
    );
  if (!stream) {
    const response = await wholeResponse(meta, shut.until(await chat()));
    items.remember(response.output);
    return sendJson(res, 200, response);
  }
  const events = new ResponseEvents(meta);
  const send = (list: readonly unknown[]) => {
    for (const e of list) {
      const { type, response } = e as { type: string; response?: { output?: unknown[] } };
      if ((type === "response.completed" || type === "response.incomplete") && response?.output)
        items.remember(response.output);
      res.write(`event: ${type}\ndata: ${JSON.stringify(e)}\n\n`);
    }
  };
  // The stream opens as OpenAI's does: its headers, then `response.created` and `response.in_progress`.
  const open = () => {
    startEventStream(res);
    send(events.start());
  };
  await streamed(
    res,
    (err) => send(events.error(fail(res, err).body())),
    async () => {
      const chunks = await keepAliveUntil(res, chat(), o.keepAliveMs ?? KEEP_ALIVE_MS, open);
      if (!res.headersSent) open();
      for await (const chunk of shut.until(chunks)) send(events.chunk(chunk));
      send(events.end());
    },
  );
}

/** `chunks`, an error while they are read thrown as `as` says it. */
async function* failingAs<T>(as: (err: unknown) => unknown, chunks: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* chunks;
  } catch (err) {
    throw as(err);
  }
}

/** Compares in constant time, so the key cannot be guessed byte by byte from response times. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  // Busy, not taken or rate-limited: worth retrying, and OpenAI's clients honour Retry-After
  // (signaling's session budget refills within a few seconds).
  if (e.status === 503) res.setHeader("retry-after", "1");
  if (e.status === 429) res.setHeader("retry-after", "2");
  sendJson(res, e.status, e.body());
}
