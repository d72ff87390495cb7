import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import type { DistrustedServer } from "../../client/sdk/connect-options";
import { NoProviderError } from "../../client/sdk/errors";
import { generateKeyPair, toHex } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, type Stage, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * Over plain http a man in the middle of the signaling connection can alter a grant. Before
 * server keys, the SDK read any grant that was not the provider's signed quote as the server's
 * lie (QUOTE_FORGED) and avoided the honest server for 10 minutes. Now the server signs every
 * grant for the request's nonce, and a requester that pins its key (`serverKey`, or the key of the
 * first signed grant) tells the server's word from the path's: a grant the key did not sign is
 * GRANT_TAMPERED, blaming the path, and the server is neither reported nor avoided. A grant the
 * server did sign with a forged quote is still the server's lie. Real servers, a real man in the
 * middle (socket.io on loopback), real WebRTC where a provider is reached.
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

type Grant = { ok?: boolean; provider?: Record<string, unknown>; server?: unknown };

/** A grant with its provider's signed quote stripped (as the old forged-grant tests do). */
const stripQuote = (grant: Grant): Grant => {
  const { quote: _stripped, ...provider } = grant.provider ?? {};
  return { ...grant, provider };
};

/** Rewrites every grant the requester is sent while `on()` holds. */
function grants(on: () => boolean, change: (g: Grant) => Grant): Stage {
  return rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => {
    const g = a as Grant;
    return [on() && g.ok && g.provider ? change(g) : a];
  });
}

const direct = { forceRelay: false, wrtc };

describe("a signaling server's key, pinned by the requester", () => {
  it("a man in the middle's altered grant is GRANT_TAMPERED blaming the path; the honest server is asked again, not avoided", async () => {
    const { url, server } = await startServer();
    let tampering = true;
    const mitm = await startMitm(url, [grants(() => tampering, stripQuote)]);
    mitms.push(mitm);
    const provider = await relayProvider(url, direct);
    const distrusted: DistrustedServer[] = [];
    const client = await relayClient(labelled(mitm.url, "requester"), {
      ...direct,
      serverKey: server.serverKey,
      onServerDistrusted: (e) => distrusted.push(e),
    });

    const err = await ask(client, "through the middle").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("GRANT_TAMPERED");
    expect((err as Error).message).toContain("man in the middle");
    expect((err as Error).message).toContain(
      `does not match its MAC under the server key ${server.serverKey}`,
    );
    expect((err as Error).message).not.toContain("lied");
    expect(distrusted).toEqual([]);
    expect(provider.events.filter((e) => e.type === "session-open")).toEqual([]);

    // The path heals: the same server is asked at once and answers (it was never avoided).
    tampering = false;
    expect((await ask(client, "after")).choices[0]?.message.content).toBe("Echo: after");
    expect(provider.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 60_000);

  it("with a second server configured, the same request is answered there and the first is not remembered", async () => {
    const first = await startServer();
    const mitm = await startMitm(first.url, [grants(() => true, stripQuote)]);
    mitms.push(mitm);
    await relayProvider(first.url);
    const second = await startServer();
    const honest = await relayProvider(second.url);
    const distrusted: DistrustedServer[] = [];
    const viaMitm = labelled(mitm.url, "requester");
    const client = await relayClient([viaMitm, second.url].join(","), {
      serverKey: { [viaMitm]: first.server.serverKey, [second.url]: second.server.serverKey },
      onServerDistrusted: (e) => distrusted.push(e),
    });
    expect((await ask(client, "anyone")).choices[0]?.message.content).toBe("Echo: anyone");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(distrusted).toEqual([]);
  }, 60_000);

  it("without a pin, the key of the first hello is pinned: a man in the middle arriving later cannot get the server avoided", async () => {
    const { url } = await startServer();
    let tampering = false;
    const mitm = await startMitm(url, [grants(() => tampering, stripQuote)]);
    mitms.push(mitm);
    const provider = await relayProvider(url, direct);
    const distrusted: DistrustedServer[] = [];
    // Sessions close at once when idle, so each request asks the server for a grant.
    const client = await relayClient(labelled(mitm.url, "requester"), {
      ...direct,
      idleCloseMs: 100,
      onServerDistrusted: (e) => distrusted.push(e),
    });
    expect((await ask(client, "first")).choices[0]?.message.content).toBe("Echo: first");
    await expect
      .poll(() => provider.events.some((e) => e.type === "session-closed"), { timeout: 10_000 })
      .toBe(true);
    tampering = true;
    const err = await ask(client, "second").catch((e: unknown) => e);
    expect((err as NoProviderError).code).toBe("GRANT_TAMPERED");
    tampering = false;
    expect((await ask(client, "third")).choices[0]?.message.content).toBe("Echo: third");
    expect(distrusted).toEqual([]);
  }, 60_000);

  it("a man in the middle answering the hello with a key of its own is named, with the pinned key", async () => {
    const { url, server } = await startServer();
    const own = generateKeyPair();
    // It answers the hello as a server would, with its own key, and keys the grants it alters.
    const mitm = await startMitm(url, [grants(() => true, stripQuote)], { serverSecretKey: own.secretKey });
    mitms.push(mitm);
    await relayProvider(url);
    const client = await relayClient(labelled(mitm.url, "requester"), { serverKey: server.serverKey });
    const err = await ask(client).catch((e: unknown) => e);
    expect((err as NoProviderError).code).toBe("GRANT_TAMPERED");
    expect((err as Error).message).toContain(toHex(own.publicKey));
    expect((err as Error).message).toContain(server.serverKey);
  }, 60_000);

  it("a forged grant the server's own key signed is the server's lie: QUOTE_FORGED, avoided, authenticated", async () => {
    // The proxy holds the server's secret key: it stands for the server itself lying.
    const key = generateKeyPair();
    const { url, server } = await startServer({ serverKey: key.secretKey });
    const mitm = await startMitm(url, [grants(() => true, stripQuote)], { serverSecretKey: key.secretKey });
    mitms.push(mitm);
    await relayProvider(url);
    const distrusted: DistrustedServer[] = [];
    const client = await relayClient(labelled(mitm.url, "requester"), {
      serverKey: server.serverKey,
      onServerDistrusted: (e) => distrusted.push(e),
    });
    const err = await ask(client).catch((e: unknown) => e);
    expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((err as Error).message).toContain("The server's own key signed that grant");
    expect(distrusted).toHaveLength(1);
    expect(distrusted[0]?.authenticated).toBe(true);
  }, 60_000);
});
