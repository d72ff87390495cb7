import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as v from "valibot";
import { MAX_COMPLETION_TOKENS, MAX_MESSAGES_PER_REQUEST, MAX_SESSION_MESSAGE_BYTES } from "../../protocol";
import { ProviderError } from "../sdk/errors";
import type { ChatCompletionCreateParams } from "../sdk/openai-shapes";
import type { SilkClient } from "../sdk/silk-client";

/**
 * A local OpenAI-compatible HTTP server backed by the SDK, so any OpenAI client library can use
 * the network: POST /v1/chat/completions (SSE streaming and not), GET /v1/models, and errors in
 * OpenAI's shape. It listens on loopback by default: whoever can reach it spends your escrow.
 */
const Body = v.object({
  model: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  messages: v.pipe(
    v.array(v.object({ role: v.picklist(["system", "user", "assistant"]), content: v.string() })),
    v.minLength(1),
    v.maxLength(MAX_MESSAGES_PER_REQUEST),
  ),
  stream: v.nullish(v.boolean()),
  stream_options: v.nullish(v.object({ include_usage: v.optional(v.boolean()) })),
  max_tokens: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_COMPLETION_TOKENS))),
  max_completion_tokens: v.nullish(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_COMPLETION_TOKENS)),
  ),
  temperature: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  top_p: v.nullish(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
  seed: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
  stop: v.nullish(v.union([v.string(), v.pipe(v.array(v.string()), v.maxLength(4))])),
});

export interface GatewayOptions {
  readonly client: SilkClient;
  readonly port?: number;
  readonly host?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
}

export interface Gateway {
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const server: Server = createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => sendError(res, toHttpError(err)));
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? "127.0.0.1"}:${port}/v1`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: GatewayOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (o.apiKey && !sameSecret(req.headers.authorization ?? "", `Bearer ${o.apiKey}`)) {
    throw new HttpError(401, "invalid_request_error", "invalid_api_key", "missing or wrong API key");
  }
  const path = new URL(req.url ?? "/", "http://x").pathname.replace(/\/+$/, "");
  if (req.method === "GET" && path === "/v1/models") return sendJson(res, 200, await o.client.models.list());
  if (req.method === "POST" && path === "/v1/chat/completions") return completions(o, req, res);
  throw new HttpError(404, "invalid_request_error", "not_found", `no route for ${req.method} ${path}`);
}

async function completions(o: GatewayOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req, MAX_SESSION_MESSAGE_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "invalid_request_error", "invalid_json", "the body is not valid JSON");
  }
  const parsed = v.safeParse(Body, json);
  if (!parsed.success) {
    const path = parsed.issues[0]?.path?.map((p) => String(p.key)).join(".") ?? "body";
    throw new HttpError(400, "invalid_request_error", "invalid_value", `invalid value at ${path}`);
  }
  const b = parsed.output;
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const params: ChatCompletionCreateParams = {
    model: b.model,
    messages: b.messages,
    max_tokens: b.max_completion_tokens ?? b.max_tokens ?? null,
    temperature: b.temperature ?? null,
    top_p: b.top_p ?? null,
    seed: b.seed ?? null,
    stop: b.stop ?? null,
    stream_options: b.stream_options ?? null,
    signal: abort.signal,
  };
  if (!b.stream)
    return sendJson(res, 200, await o.client.chat.completions.create({ ...params, stream: false }));

  const stream = await o.client.chat.completions.create({ ...params, stream: true });
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  try {
    for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    res.write("data: [DONE]\n\n");
  } catch (err) {
    // Headers are gone: OpenAI clients read an `error` object in the stream.
    const e = toHttpError(err);
    res.write(
      `data: ${JSON.stringify({ error: { message: e.message, type: e.type, param: null, code: e.code } })}\n\n`,
    );
  }
  res.end();
}

/** Compares in constant time, so the key cannot be guessed byte by byte from response times. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(
          new HttpError(413, "invalid_request_error", "request_too_large", `the body is over ${limit} bytes`),
        );
        req.destroy();
      } else parts.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

const STATUS_BY_CODE: Record<string, number> = {
  NO_MODEL: 404,
  PRICE_TOO_LOW: 402,
  OUT_OF_FUNDS: 402,
  KEY_NOT_AUTHORISED: 403,
  KEY_EPOCH: 403,
  ESCROW_CLOSING: 403,
  ESCROW_NETWORK: 403,
  ALL_BUSY: 503,
  QUEUE_FULL: 503,
  NO_ANSWER: 503,
  RATE_LIMITED: 429,
  PROVIDER_LOST: 502,
  OVER_REPORT: 502,
};

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ProviderError) {
    const status = STATUS_BY_CODE[err.code] ?? 502;
    return new HttpError(
      status,
      status === 404 ? "invalid_request_error" : "api_error",
      err.code.toLowerCase(),
      err.message,
    );
  }
  return new HttpError(500, "api_error", "internal_error", "the gateway failed; see its log");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, e.status, { error: { message: e.message, type: e.type, param: null, code: e.code } });
}
