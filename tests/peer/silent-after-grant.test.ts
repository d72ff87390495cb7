import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that grants a session and then passes nothing of it to the requester (no
 * signal, no frame, no notice): total silence after the grant. The request ends TIMEOUT saying the
 * server at its URL granted a session and nothing came from the provider through it; it said only
 * "the handshake timed out after 10000 ms", naming no server. The provider is not blamed
 * (not excluded from the request).
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

describe("a grant followed by total silence", () => {
  it("TIMEOUT naming the server that granted it and the provider's silence through it; the provider not excluded", async () => {
    const { url } = await startServer();
    const mitm = await startMitm(url, [
      // Every session event to the requester after the grant (the grant is an ack): dropped.
      (m) =>
        m.kind === "event" &&
        m.direction === "to-party" &&
        m.party.role === "requester" &&
        m.event.startsWith("session:")
          ? null
          : undefined,
    ]);
    mitms.push(mitm);
    const provider = await relayProvider(labelled(mitm.url, "provider"));
    const signaling = labelled(mitm.url, "requester");
    const client = await relayClient(signaling);
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    const message = (err as Error).message;
    expect(message).toContain(
      `the signaling server at ${signaling} granted a session with the provider ${provider.key}, and no answer from the provider came through it`,
    );
    expect(message).toContain("the provider is not excluded");
    const excludes = mitm.log
      .filter((m) => m.event === "session:request" && m.direction === "to-server" && m.kind === "event")
      .map((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);
    expect(excludes.flat()).toEqual([]);
  }, 60_000);
});
