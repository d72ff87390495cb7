import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { FaultNodes, sessionAcross } from "./fault-nodes";
import { directory, placesInUse, until, within } from "./faulty-network";
import { next } from "./helpers";

/**
 * A node dies, and the node that claims it (takes it off `nodes`, which one node does once) cannot
 * forget it at that moment: Redis refuses the directory's scripts for a while (here an ACL that
 * denies EVAL/EVALSHA; in production a refusal or a timeout of the drop alike). The claim is not
 * made again by anyone, so the claiming node must try the drop again until it goes through.
 */
let scene: FaultNodes;
afterEach(() => scene.close());

const NODE_TTL_MS = 1_500;

function redisCli(port: number, ...args: string[]): string {
  return execFileSync("redis-cli", ["-p", String(port), ...args]).toString();
}

describe("a dead node claimed while Redis refuses the drop", () => {
  it("is forgotten once Redis takes scripts again: its sessions end and their places are free", async () => {
    scene = new FaultNodes();
    const { a, b } = await scene.two({ NODE_TTL_MS: String(NODE_TTL_MS) });
    const port = scene.redis!.port;
    const { onB, granted } = await sessionAcross(a, b);
    const prefix = redisCli(port, "--scan", "--pattern", "*nodes")
      .trim()
      .replace(/nodes$/, "");

    const providerTold = next(onB.socket, "session:ended");
    await a.kill();
    redisCli(port, "ACL", "SETUSER", "default", "-eval", "-evalsha");
    try {
      // B claims A (its liveness needs no script), and its drop is refused.
      await until(
        async () => redisCli(port, "SMEMBERS", `${prefix}nodes`).trim().split("\n").length === 1,
        "the dead node claimed",
        15_000,
      );
      await new Promise((r) => setTimeout(r, 2 * NODE_TTL_MS));
    } finally {
      redisCli(port, "ACL", "SETUSER", "default", "+eval", "+evalsha");
    }
    expect(await within(providerTold, 10_000, "the provider told")).toMatchObject({
      sessionId: granted.sessionId,
      reason: "node-lost",
    });
    await until(async () => placesInUse(await directory(b.url)) === 0, "the place freed", 10_000);
  }, 60_000);
});
