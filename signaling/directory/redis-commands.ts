import { createHash } from "node:crypto";

/**
 * The node-redis commands the directory uses; a connected `createClient()` or `createCluster()`
 * satisfies it (a cluster routes each command by its first key).
 */
export interface RedisClient {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  sAdd(key: string, members: string | string[]): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  sRem(key: string, members: string | string[]): Promise<unknown>;
  hGetAll(key: string): Promise<Record<string, string>>;
  zRemRangeByScore(key: string, min: string | number, max: string | number): Promise<unknown>;
  zCard(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<unknown>;
}

/** A subscription to a Redis pub/sub channel (the node's subscriber connection, not the data client). */
export type Subscribe = (channel: string, listener: (message: string) => void) => Promise<unknown>;

/** What each Redis command is sent for (the `op` label of `silk_redis_commands_total`). */
export type DirectoryOp =
  | "pair"
  | "end"
  | "register"
  | "heartbeat"
  | "unregister"
  | "failure"
  | "read"
  | "lease";

/**
 * Runs a script by its SHA1 (EVALSHA), so each call sends a few bytes instead of the script;
 * after a Redis restart or SCRIPT FLUSH, EVAL sends it once and caches it again. `keys` are
 * within `space`, whose prefix the script gets as its last key.
 */
export async function runScript(
  redis: RedisClient,
  script: string,
  space: string,
  keys: string[],
  args: string[],
): Promise<unknown> {
  const options = { keys: [...keys.map((k) => space + k), space], arguments: args };
  try {
    return await redis.evalSha(sha1Of(script), options);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
    return redis.eval(script, options);
  }
}

/** Views of one client that count each command sent under its op (a view per op, made once). */
export class CountedClients {
  private readonly views = new Map<DirectoryOp, RedisClient>();

  constructor(
    private readonly client: RedisClient,
    private readonly onCommand: ((op: DirectoryOp) => void) | undefined,
  ) {}

  via(op: DirectoryOp): RedisClient {
    const onCommand = this.onCommand;
    if (!onCommand) return this.client;
    let view = this.views.get(op);
    if (!view) {
      view = new Proxy(this.client, {
        get(target, name, receiver) {
          const value: unknown = Reflect.get(target, name, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            onCommand(op);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      this.views.set(op, view);
    }
    return view;
  }
}

const shas = new Map<string, string>();
function sha1Of(script: string): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash("sha1").update(script).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}
