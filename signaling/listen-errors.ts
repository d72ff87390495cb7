import { RedisUnavailableError } from "./errors";

/**
 * What a newcomer reads when a port is taken (`npm start` run twice, another program on 8787):
 * one line naming the port and the setting that moves it, not Node's stack trace; or when Redis did
 * not answer the start (`RedisStartError`: its own line, naming the host, never the password).
 * Undefined for any other failure, which keeps its own message.
 */
export function listenFailure(err: unknown, setting: string): string | undefined {
  if (err instanceof RedisUnavailableError) return err.message;
  const e = err as { code?: unknown; port?: unknown; address?: unknown };
  if (e?.code === "EADDRINUSE")
    return `port ${e.port} on ${e.address} is in use (is Silk already running?): stop what holds it, or set ${setting}`;
  if (e?.code === "EACCES")
    return `port ${e.port} on ${e.address} needs privileges this user lacks: set ${setting} to a port above 1023`;
  if (e?.code === "EADDRNOTAVAIL") return `${e.address} is not an address of this machine: set the host`;
  return undefined;
}
