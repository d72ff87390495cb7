import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { HandshakeFailedError } from "../../client/sdk/errors";
import { encodePublicKey, generateKeyPair } from "../../protocol";
import { startServer } from "../signaling/helpers";
import { forgedIdentity } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import type { Mitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A grant naming a provider that the peer on the channel is not (IDENTITY_MISMATCH in the
 * handshake) means the server, or the path to it, lies: retrying through it would meet the same
 * lie. It used to end the request at once. With several signaling servers configured, the request
 * now goes on at the next one (each tried once, within HANDSHAKE_MOVES_MS of the request's start),
 * and only when every one failed does it end, the error saying what happened on each. Real
 * servers (the lying ones behind a proxy holding the server's key, so the forged grant is the
 * server's own word), real WebRTC.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const direct = { forceRelay: false, wrtc };

/** A server that names `forged` as every provider's key (with a quote that key signed), and one real provider on it. */
async function steering(): Promise<{ mitm: Mitm; forged: string; events: { type: string }[] }> {
  const pair = generateKeyPair();
  const mitm = await mitmNetwork([forgedIdentity(pair)]);
  const { events } = await relayProvider(labelled(mitm.url, "provider"), direct);
  return { mitm, forged: encodePublicKey(pair.publicKey), events };
}

const requestsTo = (mitm: Mitm) =>
  mitm.log.filter((m) => m.event === "session:request" && m.kind === "event" && m.direction === "to-server");

describe("a failed handshake with several signaling servers configured", () => {
  it("goes on at the next server within the same request, and is answered there", async () => {
    const liar = await steering();
    const { url } = await startServer();
    const honest = await relayProvider(url, direct);
    const client = await relayClient([labelled(liar.mitm.url, "requester"), url].join(","), direct);
    const answer = await ask(client, "anyone who is who they say");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone who is who they say");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(requestsTo(liar.mitm)).toHaveLength(1);
    // The provider behind the liar never got the request.
    expect(liar.events.filter((e) => e.type === "request-done")).toEqual([]);
  }, 60_000);

  it("with every server failing it, the error is the last failure and says what happened on each", async () => {
    const first = await steering();
    const second = await steering();
    const urls = [labelled(first.mitm.url, "requester"), labelled(second.mitm.url, "requester")];
    const client = await relayClient(urls.join(","), direct);
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    const failed = err as HandshakeFailedError;
    expect(failed.code).toBe("IDENTITY_MISMATCH");
    expect(failed.provider).toBe(second.forged);
    expect(failed.server).toBe(urls[1]);
    expect(failed.earlier.map((f) => [f.server, f.provider, f.cause.code])).toEqual([
      [urls[0], first.forged, "IDENTITY_MISMATCH"],
    ]);
    expect(failed.message).toContain(first.mitm.url);
    expect(failed.message).toContain(second.mitm.url);
    expect([requestsTo(first.mitm).length, requestsTo(second.mitm).length]).toEqual([1, 1]);
  }, 60_000);

  it("with one server, it ends at once naming that server", async () => {
    const liar = await steering();
    const url = labelled(liar.mitm.url, "requester");
    const client = await relayClient(url, direct);
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    expect((err as HandshakeFailedError).code).toBe("IDENTITY_MISMATCH");
    expect((err as HandshakeFailedError).earlier).toEqual([]);
    expect((err as Error).message).toContain(liar.mitm.url);
    expect(requestsTo(liar.mitm)).toHaveLength(1);
  }, 60_000);
});
