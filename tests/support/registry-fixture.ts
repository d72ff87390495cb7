import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TonClient } from "@ton/ton";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { rewrite } from "./mitm-behaviours";
import type { Stage } from "./mitm-signaling";

/**
 * Shared by the Registry trust tests: a devnet whose chain starts `hoursBack` hours in the past
 * (so entries registered first are old) until `now()` is called, then follows the real clock.
 */
export interface PastDevnet {
  readonly devnet: Devnet;
  readonly ton: TonClient;
  /** From now on the chain's clock is the real one. */
  now(): void;
  close(): Promise<void>;
}

export async function startPastDevnet(hoursBack: number): Promise<PastDevnet> {
  const dataDir = mkdtempSync(join(tmpdir(), "silk-trust-"));
  let offset = hoursBack * 3600;
  const devnet = await startDevnet({ dataDir, clock: () => Math.floor(Date.now() / 1000) - offset });
  return {
    devnet,
    ton: new TonClient({ endpoint: devnet.endpoint }),
    now: () => {
      offset = 0;
    },
    close: async () => {
      await devnet.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Rewrites every grant (the `session:request` ack) and every `session:moved` target with `grant`. */
export function rewriteGrants(grant: (g: Record<string, unknown>) => Record<string, unknown>): Stage[] {
  return [
    rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => [
      (a as { ok?: boolean }).ok ? grant(a as Record<string, unknown>) : a,
    ]),
    rewrite({ event: "session:moved", direction: "to-party" }, ([m]) => {
      const moved = m as { to: Record<string, unknown> };
      return [{ ...moved, to: grant(moved.to) }];
    }),
  ];
}

/** A server that ignores the requester's policy: it never hears it. */
export const dropPolicy = rewrite({ event: "session:request", direction: "to-server" }, ([req]) => {
  const { policy: _dropped, ...rest } = req as Record<string, unknown>;
  return [rest];
});
