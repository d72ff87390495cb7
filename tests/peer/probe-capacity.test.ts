import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The server's `session:ended` for a direct session that is still alive (here the requester's
 * signaling connection drops; the WebRTC channel does not run through the server) frees the
 * provider's place at the server, while the two peers probe each other and go on. The provider's
 * load report counts its live sessions, so the server still counts that place and offers no one
 * else beyond the capacity; once the session really ends the place comes back.
 */
// A probe of a live peer is answered in milliseconds; the long waits keep a loaded machine from failing it.
const DEADLINES = { probe: 5_000, handshaking: 6_000, account: 6_000 };

afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

describe("a provider's place after a probe passed", () => {
  it("is still counted by the server: a second requester is refused ALL_BUSY, then served once the session ends", async () => {
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

    // The first requester's signaling connection drops: the server ends its session and tells the
    // provider, which probes the peer; the peer answers, and the session goes on.
    mitm.parties.find((x) => x.label === "first")?.kill();
    await expect
      .poll(() => mitm.log.some((m) => m.event === "session:ended" && m.party.label === "provider"), {
        timeout: 10_000,
      })
      .toBe(true);
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
  }, 60_000);
});
