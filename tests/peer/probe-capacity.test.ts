import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A direct session does not run through the server, so it goes on when the server stops counting
 * it: the server's `session:ended` (a requester's signaling dropped) answered by a probe, or the
 * provider's own signaling connection dropped. The server gave the provider's place back either
 * way. While it holds such a session the provider's load report counts its live sessions, so the
 * server offers no one beyond the capacity; once the session really ends the place comes back.
 */
// A probe of a live peer is answered in milliseconds; the long waits keep a loaded machine from failing it.
const DEADLINES = { probe: 5_000, handshaking: 6_000, account: 6_000 };

afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

/** How the server comes to end a direct session that goes on. */
const drops = [
  // The server ends the session and tells the provider, which probes the peer; the peer answers.
  ["the requester's signaling connection drops", "first"],
  // The server forgets the provider and its sessions; it registers again, its session still live.
  ["the provider's signaling connection drops", "provider"],
] as const;

describe("a provider's place in a direct session the server no longer counts", () => {
  it.each(drops)(
    "%s: still counted, a second requester is refused ALL_BUSY, then served once the session ends",
    async (_name, dropped) => {
      const mitm = await mitmNetwork();
      const p = await relayProvider(labelled(mitm.url, "provider"), {
        capacity: 1,
        deadlines: DEADLINES,
        forceRelay: false,
        wrtc,
      });
      const first = await relayClient(labelled(mitm.url, "first"), {
        deadlines: DEADLINES,
        forceRelay: false,
        wrtc,
      });
      expect((await ask(first, "one")).choices[0]?.message.content).toBeTruthy();
      expect(p.events.find((e) => e.type === "session-open")).toMatchObject({ path: "direct" });

      mitm.parties.find((x) => x.label === dropped)?.kill();
      const told = dropped === "first" ? "provider" : "first";
      await expect
        .poll(() => mitm.log.some((m) => m.event === "session:ended" && m.party.label === told), {
          timeout: 10_000,
        })
        .toBe(true);
      await expect.poll(() => p.runtime.signaling.state.phase, { timeout: 10_000 }).toBe("registered");
      expect((await ask(first, "two")).choices[0]?.message.content).toBeTruthy();
      expect(p.events.filter((e) => e.type === "session-open")).toHaveLength(1);
      expect(p.events.filter((e) => e.type === "session-closed")).toEqual([]);

      const second = await relayClient(labelled(mitm.url, "second"), {
        deadlines: DEADLINES,
        forceRelay: false,
        wrtc,
        queueTimeoutMs: 1_500,
        // Its own escrow: two requesters on one escrow and provider would share one receipt stream.
        escrow: `0:${"12".repeat(32)}`,
      });
      const refused = await ask(second, "three").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NoProviderError);
      expect((refused as NoProviderError).code).toBe("ALL_BUSY");
      const offered = mitm.log.filter(
        (m) => m.event === "session:offer" && m.kind === "event" && m.party.label === "provider",
      );
      expect(offered).toHaveLength(1);

      // The session really ends: the provider reports its place free, and the second is served.
      first.close();
      await expect.poll(() => p.runtime.activeSessions, { timeout: 10_000 }).toBe(0);
      await expect
        .poll(async () => (await ask(second, "four").catch(() => undefined))?.choices[0]?.message.content, {
          timeout: 15_000,
          interval: 500,
        })
        .toBeTruthy();
    },
    60_000,
  );
});
