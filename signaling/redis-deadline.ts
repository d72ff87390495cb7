import { ErrorReply } from "redis";
import { RedisUnavailableError } from "./errors";

/** A Redis command that got no reply within its deadline. */
export class RedisTimeoutError extends RedisUnavailableError {
  override readonly name = "RedisTimeoutError";
}

/**
 * Redis's own refusal of a command (`ErrorReply`: NOSCRIPT, a script's error) is the caller's to
 * read; any other failure (the client closed, offline, its socket gone) is Redis unreachable.
 */
function unreachable(err: unknown): unknown {
  if (err instanceof ErrorReply || err instanceof RedisUnavailableError || !(err instanceof Error))
    return err;
  return new RedisUnavailableError(`Redis unreachable: ${err.message}`, { cause: err });
}

/** A command not sent because Redis is away while the node closes (`cutWhile`). */
export class RedisAwayError extends RedisUnavailableError {
  override readonly name = "RedisAwayError";
}

interface Pending {
  readonly at: number;
  readonly reject: (err: Error) => void;
}

/**
 * Every command of `client` rejects with `RedisTimeoutError` once `ms` pass without a reply, like
 * node-redis's own per-command timeout, which the caller turns off (`commandOptions: { timeout: 0
 * }`): that one makes an `AbortSignal.timeout` and a listener per command, measured at 19 to 41 µs
 * each on this loaded VM (a bare socket.io ack is 33 to 100 µs), so a pairing's two commands cost
 * more than its own work. Here one timer sweeps the commands in flight a few times per deadline, so
 * a command waits at most `ms` and a fifth more. `stop` ends the sweep. A command failing for any
 * reason but Redis's own reply rejects as `RedisUnavailableError` (its cause kept).
 *
 * `cutWhile(away)`: from then on, whenever `away()` says Redis is not there, a command rejects at
 * once (`RedisAwayError`) and those in flight are cut (at once, then at each sweep) rather than
 * waiting out `ms`: a node closing while its Redis is away does not wait a deadline per step.
 */
export function withDeadline<C extends object>(
  client: C,
  ms: number,
): { client: C; stop(): void; cutWhile(away: () => boolean): void } {
  const pending = new Set<Pending>();
  let away: (() => boolean) | undefined;
  const awayError = () => new RedisAwayError("Redis is away and the node is closing: not waited for");
  const cutAll = () => {
    for (const p of pending) p.reject(awayError());
    pending.clear();
  };
  const sweep = setInterval(
    () => {
      if (away?.()) return cutAll();
      const now = performance.now();
      for (const p of pending)
        if (p.at <= now) {
          pending.delete(p);
          p.reject(new RedisTimeoutError(`no reply from Redis within ${ms} ms`));
        }
    },
    Math.max(10, ms / 5),
  );
  sweep.unref();
  const wrapped = new Proxy(client, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        if (away?.()) {
          // Queued until Redis returns or the client is cut, whichever comes first: not waited for.
          result.catch(() => undefined);
          return Promise.reject(awayError());
        }
        return new Promise((resolve, reject) => {
          const entry: Pending = { at: performance.now() + ms, reject };
          pending.add(entry);
          result.then(
            (v: unknown) => {
              pending.delete(entry);
              resolve(v);
            },
            (err: unknown) => {
              pending.delete(entry);
              reject(unreachable(err));
            },
          );
        });
      };
    },
  });
  return {
    client: wrapped,
    stop: () => clearInterval(sweep),
    cutWhile: (check) => {
      away = check;
      if (check()) cutAll();
    },
  };
}
