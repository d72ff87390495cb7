import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpError } from "./http-errors";

/**
 * One log line per request the gateway answers: its id, method, path, status and time, and for a
 * failure its code; for the gateway's own faults (500) also the error's name, message and stack.
 * Never the body, a header, a prompt or a key: the path is logged without its query string, and a
 * refusal is logged by code only, since its message may come from a provider, who could quote
 * the prompt in it.
 */
export interface GatewayLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: GatewayLogger = { info() {}, warn() {}, error() {} };

export function logExchange(
  log: GatewayLogger,
  req: IncomingMessage,
  res: ServerResponse,
  o: { requestId: string; startedAt: number; failure?: { http: HttpError; cause: unknown } },
): void {
  const fields: Record<string, unknown> = {
    requestId: o.requestId,
    method: req.method,
    path: new URL(req.url ?? "/", "http://x").pathname,
    status: o.failure?.http.status ?? res.statusCode,
    ms: Math.round(performance.now() - o.startedAt),
    ...(!res.writableFinished && { clientGone: true }),
  };
  if (!o.failure) {
    log.info(fields, "request answered");
    return;
  }
  const { http, cause } = o.failure;
  fields.code = http.code;
  if (http.status === 500) log.error({ ...fields, error: describe(cause) }, "gateway fault");
  else if (http.status >= 500 && http.status !== 503) log.error(fields, "provider failed");
  else log.warn(fields, "request refused");
}

function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    message: err.message.slice(0, 300),
    ...(typeof code === "string" && { code }),
    ...(err.stack && { stack: err.stack.split("\n").slice(1, 6).join("\n") }),
  };
}
