import { spawn } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { RedisStartError } from "../../signaling/redis-clients";
import { createSignalingServer } from "../../signaling/server";

/**
 * A node started against a Redis that does not answer gives up after REDIS_CONNECT_TIMEOUT_MS with
 * one line naming the host (never the URL's password) and a non-zero exit. node-redis alone
 * retries for ever: the node waited with no end, printing a warning every few seconds.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const PASSWORD = "hunter2-not-for-logs";
/** The deadline asked for, and a loaded machine's slack (a process start, tsx's compile). */
const DEADLINE_MS = 1_500;
const BOUND_MS = 20_000;

const opened: Server[] = [];
const held: Socket[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await Promise.all(opened.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A port on loopback nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A listener that takes the connection and never says a word (a Redis hung, or something else). */
async function silentPort(): Promise<number> {
  const s = createServer((socket) => {
    held.push(socket);
    socket.on("data", () => undefined);
  });
  opened.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as { port: number }).port;
}

function runNode(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "signaling/main.ts"], {
    cwd: root,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const started = Date.now();
  const timer = setTimeout(() => child.kill("SIGKILL"), BOUND_MS);
  return new Promise<{ code: number | null; out: string; ms: number }>((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - started });
    }),
  );
}

describe("a Redis that does not answer the node's start", () => {
  it("a closed port: the node exits non-zero within its deadline, naming the host and not the password", async () => {
    const port = await closedPort();
    const { code, out, ms } = await runNode({
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}`,
      REDIS_CONNECT_TIMEOUT_MS: String(DEADLINE_MS),
    });
    expect(code, out).toBe(1);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(out).toContain(
      `silk-signaling: Redis at 127.0.0.1:${port} did not answer within ${DEADLINE_MS} ms (REDIS_CONNECT_TIMEOUT_MS)`,
    );
    expect(out).toContain("ECONNREFUSED");
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain('"msg":"listening"');
  });

  it("a listener that never answers: start() rejects typed (RedisStartError) after the deadline", async () => {
    const port = await silentPort();
    const server = createSignalingServer({
      host: "127.0.0.1",
      port: 0,
      logLevel: "silent",
      redisUrl: `redis://default:${PASSWORD}@127.0.0.1:${port}`,
      redisConnectTimeoutMs: DEADLINE_MS,
    });
    const started = Date.now();
    const err = await server.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = Date.now() - started;
    await server.close();
    expect(err).toBeInstanceOf(RedisStartError);
    expect((err as Error).message).toBe(
      `Redis at 127.0.0.1:${port} did not answer within ${DEADLINE_MS} ms (REDIS_CONNECT_TIMEOUT_MS)`,
    );
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(ms).toBeLessThan(BOUND_MS);
  });
});
