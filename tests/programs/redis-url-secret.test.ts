import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../signaling/config";
import { runProgram } from "../support/run-program";

/**
 * A REDIS_URL an operator mistyped (a space in the host, a scheme that is not Redis's) used to reach
 * node-redis unchecked: its `TypeError: Invalid URL` ended the program with a stack trace and the
 * URL as Node prints the error's `input`, the Redis password in it, on stderr (and so into whatever
 * keeps the node's logs). It is refused by name now, at the setting, and its text is not repeated.
 */
const PASSWORD = "REDIS-PASSWORD-MARKER-9d4e";

describe("a REDIS_URL that is not one", () => {
  const bad = [
    `redis://:${PASSWORD}@bad host:6379`,
    `http://user:${PASSWORD}@example.com:6379`,
    `redis://127.0.0.1:6379,redis://:${PASSWORD}@[nope`,
    // As node-redis reads them: a unix: URL with one slash, a db that is not a number (or whole).
    `unix:/run/redis.sock`,
    `unix://:${PASSWORD}@/run/redis.sock?db=x`,
    `redis://:${PASSWORD}@127.0.0.1:6379/zero`,
    `redis://:${PASSWORD}@127.0.0.1:6379/1.5`,
  ];

  it("is refused by name by loadConfig, without repeating it", () => {
    for (const url of bad) {
      let err: unknown;
      try {
        loadConfig({ REDIS_URL: url });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^REDIS_URL/);
      expect((err as Error).message).not.toContain(PASSWORD);
    }
    // What node-redis takes is taken: one URL, several (a cluster), TLS, a Unix socket.
    for (const good of [
      `redis://:${PASSWORD}@127.0.0.1:6379/0`,
      "redis://a:7000, redis://b:7001",
      "rediss://user:pw@redis.example.com",
      "unix:///run/redis.sock",
      "unix://:pw@/run/redis.sock?db=2",
    ])
      expect(loadConfig({ REDIS_URL: good }).redisUrl).toBe(good);
  });

  it("ends the signaling server and npm start with exit status 2, the password not printed", async () => {
    for (const [file, said, url] of [
      ["signaling/main.ts", "silk-signaling: REDIS_URL", bad[0]!],
      ["silk.ts", "silk: REDIS_URL", bad[0]!],
      // One node-redis's URL check refused with a stack trace, though the URL parses.
      ["signaling/main.ts", "silk-signaling: REDIS_URL", bad[4]!],
    ] as const) {
      const { code, stdout, stderr } = await runProgram(file, [], {
        PORT: "0",
        DEVNET_PORT: "0",
        REDIS_URL: url,
      });
      expect(stderr + stdout).not.toContain(PASSWORD);
      expect(stderr).toContain(said);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(code).toBe(2);
    }
  }, 120_000);
});
