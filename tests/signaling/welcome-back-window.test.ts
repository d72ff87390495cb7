import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { encodePublicKey, generateKeyPair } from "../../protocol";
import { ResumeTickets } from "../../signaling/resume-tickets";
import { FaultNodes } from "./fault-nodes";
import { until } from "./faulty-network";
import { admitted, cleanup } from "./helpers";

/**
 * When a node sees another die, it admits the dead node's returning clients (a valid resume
 * ticket) past the per-IP connection limit for RECONNECT_WINDOW_MS: they all arrive at once, many
 * from one address. That window opens once per death. If the dead node's drop keeps failing (Redis
 * refuses or does not answer it), the drop is owed and tried again each tick; it is not a new death
 * each tick, and must not keep the limit off for tickets as long as Redis fails.
 */
let scene: FaultNodes;
afterEach(async () => {
  await cleanup();
  await scene.close();
});

const SECRET = "welcome-back-window-test-secret";
const WINDOW_MS = 3_000;
const NODE_TTL_MS = 1_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function redisCli(port: number, ...args: string[]): string {
  return execFileSync("redis-cli", ["-p", String(port), ...args]).toString();
}

function ticket(): string {
  return new ResumeTickets(SECRET, 60_000).issue(encodePublicKey(generateKeyPair().publicKey), Date.now());
}

describe("the welcome-back window after a node dies", () => {
  it("opens once at the claim, and closes on time while the dead node's drop keeps failing", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two({
      NODE_TTL_MS: String(NODE_TTL_MS),
      RECONNECT_WINDOW_MS: String(WINDOW_MS),
      IP_CONNECTION_BURST: "1",
      IP_CONNECTIONS_PER_MINUTE: "1",
      RESUME_SECRET: SECRET,
    });
    const port = scene.redis!.port;
    // The window every node opens at its start has closed.
    await sleep(WINDOW_MS + 200);
    const prefix = redisCli(port, "--scan", "--pattern", "*nodes")
      .trim()
      .replace(/nodes$/, "");
    await a.kill();
    // The drop (a script) is refused from now on; the claim (SREM) and b's beats are not.
    redisCli(port, "ACL", "SETUSER", "default", "-eval", "-evalsha");
    try {
      await until(
        async () => redisCli(port, "SMEMBERS", `${prefix}nodes`).trim().split("\n").length === 1,
        "the dead node claimed",
        15_000,
      );
      // Opened by the claim: the address's budget spent, a ticket still gets in.
      expect(await admitted(b.url)).toBe(true);
      expect(await admitted(b.url)).toBe(false);
      expect(await admitted(b.url, { resume: "1", ticket: ticket() })).toBe(true);
      // A window with no ticket arriving, the drop failing at every tick meanwhile: it has closed.
      await sleep(WINDOW_MS + 1_000);
      expect(redisCli(port, "SMEMBERS", `${prefix}nodes`).trim().split("\n")).toHaveLength(1);
      expect(await admitted(b.url, { resume: "1", ticket: ticket() })).toBe(false);
    } finally {
      redisCli(port, "ACL", "SETUSER", "default", "+eval", "+evalsha");
    }
  }, 60_000);
});
