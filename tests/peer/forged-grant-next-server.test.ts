import { afterEach, describe, expect, it } from "vitest";
import type { DistrustedServer } from "../../client/sdk/connect-options";
import { NoProviderError } from "../../client/sdk/errors";
import { generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server caught lying (its grant is not the provider's signed quote: QUOTE_FORGED)
 * would lie again. An app that configured more than one server has the SDK leave it for the next
 * at once and ask there, within the same request; with one server only, the request ends
 * QUOTE_FORGED naming it, and the app decides. A liar is remembered for a while (`liarMemoryMs`):
 * no later request or reconnect goes back to it while an honest server is configured, and with
 * only liars left a request fails at once, QUOTE_FORGED naming them, asking none. Real servers,
 * one behind a man in the middle that strips the quote from every grant.
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

/** Resolves once `cond` holds; fails naming `what` after 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A server whose grants carry no signed quote (its own signed lie), with one provider on it. */
async function lyingServer() {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(
    url,
    [
      rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => {
        const grant = a as { ok?: boolean; provider?: Record<string, unknown> };
        if (!grant.ok || !grant.provider) return [a];
        const { quote: _stripped, ...provider } = grant.provider;
        return [{ ...grant, provider }];
      }),
    ],
    { serverSecretKey },
  );
  mitms.push(mitm);
  const provider = await relayProvider(labelled(mitm.url, "provider"));
  return { mitm, provider };
}

describe("after a forged grant", () => {
  it("with a second server configured, the same request is answered there", async () => {
    const liar = await lyingServer();
    const { url } = await startServer();
    const honest = await relayProvider(url);
    const client = await relayClient([labelled(liar.mitm.url, "requester"), url].join(","));
    const answer = await ask(client, "anyone honest");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone honest");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(liar.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
    // The liar heard one request, and the client stays with the honest server.
    const asked = liar.mitm.log.filter((m) => m.event === "session:request" && m.kind === "event");
    expect(asked).toHaveLength(1);
    expect((await ask(client, "again")).choices[0]?.message.content).toBe("Echo: again");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 30_000);

  it("with one server only, QUOTE_FORGED naming it, the provider not blamed", async () => {
    const liar = await lyingServer();
    const client = await relayClient(labelled(liar.mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((err as Error).message).toContain(liar.mitm.url);
    expect(liar.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 30_000);

  it("remembers the liar: after a reconnect the client goes back to the honest server, never the liar", async () => {
    const liar = await lyingServer();
    const { url } = await startServer();
    // The honest server behind a man in the middle that only passes things on, so that the test
    // can drop the client's connection there.
    const honestPath = await startMitm(url);
    mitms.push(honestPath);
    const honest = await relayProvider(url);
    const distrusted: DistrustedServer[] = [];
    const client = await relayClient(
      [labelled(liar.mitm.url, "requester"), labelled(honestPath.url, "requester")].join(","),
      { onServerDistrusted: (e) => distrusted.push(e) },
    );
    expect((await ask(client, "first")).choices[0]?.message.content).toBe("Echo: first");

    // The honest server's connection drops: the client dials again, and not the liar.
    const dialled = () =>
      [liar.mitm, honestPath].map((m) => m.parties.filter((p) => p.label === "requester").length);
    expect(dialled()).toEqual([1, 1]);
    for (const p of honestPath.parties) p.kill();
    await until(() => dialled().reduce((a, b) => a + b) > 2, "the client to dial again");
    expect((await ask(client, "after the drop")).choices[0]?.message.content).toBe("Echo: after the drop");
    const liarRequesters = liar.mitm.parties.filter((p) => p.label === "requester");
    expect(liarRequesters).toHaveLength(1);
    const asked = liar.mitm.log.filter((m) => m.event === "session:request" && m.kind === "event");
    expect(asked).toHaveLength(1);
    expect(honestPath.parties.filter((p) => p.label === "requester").length).toBeGreaterThanOrEqual(2);
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(2);
    // Told once, naming the liar, for a bounded while.
    expect(distrusted).toHaveLength(1);
    expect(distrusted[0]?.url).toContain(liar.mitm.url);
    expect(distrusted[0]?.reason).toContain("lied");
    expect(distrusted[0]?.until).toBeGreaterThan(Date.now() + 60_000);
    expect(distrusted[0]?.until).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    // Over plain http nothing proves the grant came from the server: its key was first seen on that
    // very grant, and a man in the middle on the path could have forged both. Said, so an app does
    // not report an honest server as a liar.
    expect(distrusted[0]?.authenticated).toBe(false);
    expect(distrusted[0]?.reason).toContain("or by anyone on the unauthenticated path to it");
  }, 60_000);

  it("with only liars left, a later request fails at once QUOTE_FORGED naming them, asking none", async () => {
    const first = await lyingServer();
    const second = await lyingServer();
    const client = await relayClient(
      [labelled(first.mitm.url, "requester"), labelled(second.mitm.url, "requester")].join(","),
    );
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((err as Error).message).toContain(first.mitm.url);
    expect((err as Error).message).toContain(second.mitm.url);
    const heard = () =>
      [first, second].map(
        (l) => l.mitm.log.filter((m) => m.event === "session:request" && m.kind === "event").length,
      );
    expect(heard()).toEqual([1, 1]);

    const again = await ask(client, "again").catch((e: unknown) => e);
    expect(again).toBeInstanceOf(NoProviderError);
    expect((again as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((again as Error).message).toMatch(/Every configured signaling server was caught forging a grant/);
    expect(heard()).toEqual([1, 1]);
    expect(first.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
    expect(second.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 60_000);

  it("a quote that ran out moments ago may be our own clock: refused, but the server is not remembered", async () => {
    // The server offers quotes to the end of their life (no margin); providers renew every second.
    const serverSecretKey = generateKeyPair().secretKey;
    const { url } = await startServer({ quoteMarginMs: 0, serverKey: serverSecretKey });
    let kept: unknown;
    let replaying = false;
    const mitm = await startMitm(
      url,
      [
        rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => {
          const grant = a as { ok?: boolean; provider?: Record<string, unknown> };
          if (!grant.ok || !grant.provider) return [a];
          kept ??= grant.provider.quote;
          return replaying ? [{ ...grant, provider: { ...grant.provider, quote: kept } }] : [a];
        }),
      ],
      { serverSecretKey },
    );
    mitms.push(mitm);
    await relayProvider(labelled(mitm.url, "provider"), { quoteTtlMs: 2_000 });
    const distrusted: DistrustedServer[] = [];
    // Sessions close at once when idle, so each request asks the server for a grant.
    const client = await relayClient(labelled(mitm.url, "requester"), {
      idleCloseMs: 100,
      onServerDistrusted: (e) => distrusted.push(e),
    });
    expect((await ask(client, "first")).choices[0]?.message.content).toBe("Echo: first");
    // The first grant's quote, once it has run out, is what a requester whose clock runs ahead
    // would see in a fresh grant.
    await until(
      () => Date.now() > (kept as { expiresAt: number }).expiresAt + 100,
      "the first quote to run out",
    );
    replaying = true;
    const err = await ask(client, "stale").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((err as Error).message).toContain("expired");
    replaying = false;
    expect((await ask(client, "later")).choices[0]?.message.content).toBe("Echo: later");
    expect(distrusted).toEqual([]);
  }, 60_000);
});
