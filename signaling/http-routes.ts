import type { IncomingMessage, ServerResponse } from "node:http";
import type { PageConfig } from "../protocol";
import type { ServerContext } from "./context";
import { isTransientReply, RedisUnavailableError, toWireError } from "./errors";
import { serveStatic } from "./static-files";
import { requestOrigin, tonConnectManifest } from "./tonconnect-manifest";

/** Another HTTP API served under `prefix` (e.g. `/ton`); it sees the path with the prefix removed. */
export interface HttpMount {
  readonly prefix: string;
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface HttpExtras {
  readonly pageConfig: PageConfig | undefined;
  readonly mounts: readonly HttpMount[];
}

/**
 * `/healthz`, `/metrics`, `/api/models`, `/api/server-key`, `/api/config`, `/tonconnect-manifest.json`, the mounts,
 * then the static pages if configured; socket.io owns `/socket.io/`.
 */
export function httpHandler(ctx: ServerContext, extras: HttpExtras = { pageConfig: undefined, mounts: [] }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const mount = extras.mounts.find((m) => (req.url ?? "").startsWith(`${m.prefix}/`));
    if (mount) {
      req.url = (req.url ?? "").slice(mount.prefix.length);
      mount.handle(req, res);
      return;
    }
    void route(ctx, extras, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      // Redis away (or "not now"): said so, as a socket's refusal says it, and worth retrying;
      // it was an unexplained 500 "internal error".
      if (redisAway(err))
        return send(res, 503, "application/json", JSON.stringify({ error: toWireError(err) }), {
          "retry-after": "1",
        });
      send(res, 500, "application/json", JSON.stringify({ error: "internal error" }));
    });
  };
}

async function route(
  ctx: ServerContext,
  extras: HttpExtras,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && path === "/healthz") {
    const body = {
      ok: !ctx.closing,
      node: ctx.nodeId,
      providers: ctx.localProviders.size,
      sockets: ctx.io.engine.clientsCount,
    };
    return send(res, ctx.closing ? 503 : 200, "application/json", JSON.stringify(body));
  }
  if (req.method === "GET" && path === "/metrics") {
    // Served while Redis is away too (the count last read): what an operator watches then. It
    // answered 500 after the command deadline, so monitoring lost the node just when it mattered.
    ctx.sessionCount = await ctx.directory.sessionCount().catch((err: unknown) => {
      if (redisAway(err)) return ctx.sessionCount;
      throw err;
    });
    return send(res, 200, "text/plain; version=0.0.4; charset=utf-8", ctx.metrics.registry.render());
  }
  if (req.method === "GET" && path === "/api/models") {
    const body = { ...(await ctx.feed.snapshot()), audits: await auditView(ctx) };
    return send(res, 200, "application/json", JSON.stringify(body), {
      "access-control-allow-origin": "*",
      "cache-control": "no-store",
    });
  }
  if (req.method === "GET" && path === "/api/server-key") {
    // The key that signs this server's grants, for requesters to pin (pinned from here, it is only
    // as trustworthy as the path it came over: https, or compare it with the operator's word).
    return send(res, 200, "application/json", JSON.stringify({ v: 1, key: ctx.serverKey.key }), {
      "access-control-allow-origin": "*",
      "cache-control": "no-cache",
    });
  }
  if (req.method === "GET" && path === "/api/config") {
    if (!extras.pageConfig)
      return send(res, 404, "application/json", JSON.stringify({ error: "no chain configured" }));
    // The widget runs on other origins and reads it from there.
    return send(res, 200, "application/json", JSON.stringify(extras.pageConfig), {
      "access-control-allow-origin": "*",
      "cache-control": "no-cache",
    });
  }
  if (req.method === "GET" && path === "/tonconnect-manifest.json") {
    const origin = requestOrigin(req, ctx.config.trustProxy);
    if (!origin) return send(res, 400, "application/json", JSON.stringify({ error: "no Host header" }));
    return send(res, 200, "application/json", JSON.stringify(tonConnectManifest(origin)), {
      // Wallets fetch it from their own origin.
      "access-control-allow-origin": "*",
      "cache-control": "no-cache",
    });
  }
  if (ctx.config.staticDir && (await serveStatic(ctx.config.staticDir, req, res))) return;
  send(res, 404, "application/json", JSON.stringify({ error: "not found" }));
}

const redisAway = (err: unknown) => err instanceof RedisUnavailableError || isTransientReply(err);

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Audit counts of the providers registered now, per model (issue 16), flagged and dropped ones marked. */
async function auditView(ctx: ServerContext) {
  const [providers, standing] = await Promise.all([ctx.directory.all(), ctx.audits.standing()]);
  const rows = await Promise.all(
    providers.map(async (p) =>
      [...(await ctx.audits.countsOf(p.identityKey))].map(([model, c]) => ({
        provider: p.identityKey,
        model,
        passed: c.passed,
        failed: c.failed,
        ...(standing.dropped.has(p.identityKey) && { dropped: true }),
      })),
    ),
  );
  return rows.flat();
}
