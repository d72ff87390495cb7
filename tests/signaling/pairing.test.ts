import { afterEach, describe, expect, it } from "vitest";
import {
  call,
  cleanup,
  connect,
  flat,
  followMoves,
  next,
  provider,
  requestBody,
  requestSession,
  startServer,
} from "./helpers";

afterEach(cleanup);

describe("signaling: registration and pairing over real sockets", () => {
  it("pairs a requester with a registered provider and relays signals between exactly those two", async () => {
    const ice = [{ urls: "stun:stun.example.org:3478" }];
    const { url } = await startServer({ iceServers: ice });
    const p = await provider(url, { models: [{ model: "m1", price: flat(7n) }] });
    const r = await connect(url);
    const body = requestBody("m1", 10n);

    const offered = next<Record<string, unknown>>(p.socket, "session:offer");
    const granted = await requestSession(r, body);
    expect(granted.ok).toBe(true);
    if (!granted.ok) return;
    expect(granted.provider.identityKey).toBe(p.identityKey);
    expect(granted.provider.price).toEqual({
      nanoPerToken: "7",
      promptMultiplierBps: 10_000,
      completionMultiplierBps: 10_000,
    });
    expect(granted.iceServers).toEqual(ice);
    const offer = await offered;
    expect(offer).toMatchObject({
      sessionId: granted.sessionId,
      model: "m1",
      sessionKey: body.sessionKey,
      iceServers: ice,
    });

    const atProvider = next(p.socket, "session:signal");
    expect(
      await call(r, "session:signal", {
        v: 1,
        sessionId: granted.sessionId,
        data: { type: "offer", sdp: "v=0" },
      }),
    ).toEqual({ ok: true });
    expect(await atProvider).toEqual({
      v: 1,
      sessionId: granted.sessionId,
      data: { type: "offer", sdp: "v=0" },
    });

    const atRequester = next(r, "session:signal");
    await call(p.socket, "session:signal", {
      v: 1,
      sessionId: granted.sessionId,
      data: { type: "answer", sdp: "v=0" },
    });
    expect(await atRequester).toMatchObject({ data: { type: "answer" } });

    const frameAtProvider = next<{ frame: Uint8Array }>(p.socket, "session:frame");
    await call(r, "session:frame", { v: 1, sessionId: granted.sessionId, frame: new Uint8Array([1, 2, 3]) });
    expect(new Uint8Array((await frameAtProvider).frame)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("frees the provider's capacity when the session ends, and tells the other party", async () => {
    const { url } = await startServer();
    const p = await provider(url, { capacity: 1 });
    const r = await connect(url);
    const first = await requestSession(r);
    expect(first.ok).toBe(true);
    const busy = await requestSession(r);
    expect(busy).toMatchObject({ ok: false, error: { code: "ALL_BUSY" } });

    if (!first.ok) return;
    const ended = next(p.socket, "session:ended");
    expect(await call(r, "session:end", { v: 1, sessionId: first.sessionId })).toEqual({ ok: true });
    expect(await ended).toEqual({ v: 1, sessionId: first.sessionId, reason: "ended" });
    expect((await requestSession(r)).ok).toBe(true);
  });

  it("tells the requester when its provider disconnects, so it can fail over (excluding it)", async () => {
    const { url } = await startServer();
    const p1 = await provider(url, { models: [{ model: "m1", price: flat(1n) }] });
    const p2 = await provider(url, { models: [{ model: "m1", price: flat(2n) }] });
    const r = await connect(url);
    const first = await requestSession(r);
    if (!first.ok) throw new Error("expected a session");
    expect(first.provider.identityKey).toBe(p1.identityKey);
    // Once the provider has answered (its signal follows its ack on the same socket), leaving ends
    // the session; before that, the server would move the requester on instead.
    const answered = next(r, "session:signal");
    await call(p1.socket, "session:signal", { v: 1, sessionId: first.sessionId, data: { type: "answer" } });
    await answered;

    const ended = next(r, "session:ended");
    p1.socket.disconnect();
    expect(await ended).toEqual({ v: 1, sessionId: first.sessionId, reason: "peer-disconnected" });
    const again = await requestSession(r, requestBody("m1", 100n, [p1.identityKey]));
    expect(again).toMatchObject({ ok: true, provider: { identityKey: p2.identityKey } });
  });

  it("grants at once, then moves the requester on when its provider does not answer, then when one refuses", async () => {
    const { url, server } = await startServer({ offerTimeoutMs: 150 });
    const silent = await provider(url, { models: [{ model: "m1", price: flat(1n) }], answer: "silent" });
    const refusing = await provider(url, { models: [{ model: "m1", price: flat(2n) }], answer: "refuse" });
    const good = await provider(url, { models: [{ model: "m1", price: flat(3n) }] });
    const r = await connect(url);

    const withdrawn = next(silent.socket, "session:ended");
    const granted = await requestSession(r);
    // The grant does not wait for the provider: the cheapest is named before it has answered.
    expect(granted).toMatchObject({ ok: true, provider: { identityKey: silent.identityKey } });
    const { final, path } = await followMoves(r, granted, [good.identityKey]);
    expect(path).toEqual([silent.identityKey, refusing.identityKey, good.identityKey]);
    expect(final).toMatchObject({ ok: true, provider: { identityKey: good.identityKey } });
    expect(silent.offers).toHaveLength(1);
    expect(refusing.offers).toHaveLength(1);
    expect(await withdrawn).toMatchObject({ reason: "offer-withdrawn" });
    if (!granted.ok || !final.ok) return;
    // The requester left the withdrawn sessions: it cannot relay into them, and it can into the new one.
    expect(
      await call(r, "session:signal", { v: 1, sessionId: granted.sessionId, data: { type: "offer" } }),
    ).toMatchObject({ ok: false, error: { code: "NOT_IN_SESSION" } });
    const atGood = next(good.socket, "session:signal");
    await call(r, "session:signal", { v: 1, sessionId: final.sessionId, data: { type: "offer" } });
    expect(await atGood).toMatchObject({ sessionId: final.sessionId });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/silk_offers_total\{outcome="no-answer"\} 1/);
    expect(metrics).toMatch(/silk_offers_total\{outcome="refused"\} 1/);
    expect(metrics).toMatch(/silk_session_moves_total 2/);
    expect(server).toBeDefined();
  });

  it("moves on at once when a provider disconnects while it is being offered a session", async () => {
    // With a minute-long offer timeout, waiting for it would time this test out.
    const { url } = await startServer({ offerTimeoutMs: 60_000 });
    const leaving = await provider(url, { models: [{ model: "m1", price: flat(1n) }], answer: "silent" });
    leaving.socket.on("session:offer", () => leaving.socket.disconnect());
    const good = await provider(url, { models: [{ model: "m1", price: flat(5n) }] });
    const r = await connect(url);
    const { final } = await followMoves(r, await requestSession(r), [good.identityKey], 2_000);
    expect(final).toMatchObject({ ok: true, provider: { identityKey: good.identityKey } });
    expect(leaving.offers).toHaveLength(1);
  });

  it("prefers a provider that answered over one that recently failed", async () => {
    const { url } = await startServer({ offerTimeoutMs: 150 });
    const silent = await provider(url, {
      models: [{ model: "m1", price: flat(1n) }],
      answer: "silent",
      capacity: 4,
    });
    const good = await provider(url, { models: [{ model: "m1", price: flat(5n) }], capacity: 4 });
    const r = await connect(url);
    const { final } = await followMoves(r, await requestSession(r), [good.identityKey]);
    expect(final).toMatchObject({ ok: true, provider: { identityKey: good.identityKey } });
    // The cheaper one failed a moment ago, so the next request goes straight to the one that works.
    expect(await requestSession(r)).toMatchObject({ ok: true, provider: { identityKey: good.identityKey } });
    expect(silent.offers).toHaveLength(1);
  });

  it("says NO_ANSWER when every provider stays silent, and frees their capacity", async () => {
    const { url } = await startServer({ offerTimeoutMs: 100 });
    const a = await provider(url, { answer: "silent" });
    const b = await provider(url, { answer: "silent" });
    const r = await connect(url);
    const { final, path } = await followMoves(r, await requestSession(r), []);
    expect(final).toMatchObject({ ok: false, error: { code: "NO_ANSWER" } });
    expect(new Set(path)).toEqual(new Set([a.identityKey, b.identityKey]));
    const models = (await (await fetch(`${url}/api/models`)).json()) as { models: { inUse: number }[] };
    expect(models.models[0]?.inUse).toBe(0);
  });

  it("tells a requester whose only provider refuses that all are busy", async () => {
    const { url } = await startServer();
    await provider(url, { answer: "refuse" });
    const r = await connect(url);
    const { final } = await followMoves(r, await requestSession(r), []);
    expect(final).toMatchObject({ ok: false, error: { code: "ALL_BUSY" } });
  });

  it("stops failing over once the requester has ended the session", async () => {
    const { url } = await startServer({ offerTimeoutMs: 100 });
    const silent = await provider(url, { models: [{ model: "m1", price: flat(1n) }], answer: "silent" });
    const other = await provider(url, { models: [{ model: "m1", price: flat(2n) }] });
    const r = await connect(url);
    const moved: unknown[] = [];
    r.on("session:moved", (m) => moved.push(m));
    const granted = await requestSession(r);
    if (!granted.ok) throw new Error("expected a grant");
    expect(await call(r, "session:end", { v: 1, sessionId: granted.sessionId })).toEqual({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(moved).toEqual([]);
    expect(silent.offers).toHaveLength(1);
    expect(other.offers).toHaveLength(0);
  });

  it("answers INTERNAL and holds nothing when the directory fails mid-pairing", async () => {
    const { url, server } = await startServer();
    await provider(url, { capacity: 1 });
    const r = await connect(url);
    const directory = server.directory;
    const { reserveBest, reserveNow } = directory;
    // The store failing in the turn that reads the request, and after a round trip.
    directory.reserveNow = () => {
      throw new Error("store down");
    };
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    directory.reserveNow = undefined;
    directory.reserveBest = () => Promise.reject(new Error("store down"));
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    directory.reserveBest = reserveBest;
    directory.reserveNow = reserveNow;
    // Nothing was reserved: the only provider can be paired.
    expect(await requestSession(r)).toMatchObject({ ok: true });
  });

  it("a requester gone while its request was being placed: the place is given back at once, no offer is sent", async () => {
    // Its grant can never reach it, so the place used to be held for nobody: the provider was
    // offered the session and sat in it until its own handshake deadline, refusing others ALL_BUSY.
    const { url, server } = await startServer();
    const p = await provider(url, { capacity: 1 });
    const gone = await connect(url);
    const directory = server.directory;
    const { reserveBest, reserveNow } = directory;
    // The store takes a round trip (as Redis does), and the requester's connection drops in it.
    directory.reserveNow = undefined;
    let placed: Promise<unknown> | undefined;
    directory.reserveBest = async (pick, draft) => {
      gone.disconnect();
      const until = Date.now() + 10_000;
      while (server.io.of("/").sockets.has(draft.requesterSocketId) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      directory.reserveNow = reserveNow;
      placed = reserveBest.call(directory, pick, draft);
      return placed as ReturnType<typeof reserveBest>;
    };
    gone.emit("session:request", requestBody());
    await expect.poll(() => placed, { timeout: 10_000 }).toBeDefined();
    await placed;
    directory.reserveBest = reserveBest;
    const r = await connect(url);
    const granted = await requestSession(r);
    expect(granted).toMatchObject({ ok: true, provider: { identityKey: p.identityKey } });
    // The only offer the provider ever hears is the live requester's.
    await expect.poll(() => p.offers.length, { timeout: 5_000 }).toBe(1);
    expect(p.offers[0]).toMatchObject({ sessionId: granted.ok ? granted.sessionId : "" });
  });

  it("says why nothing fits: no such model, price too low, all busy", async () => {
    const { url } = await startServer();
    const p = await provider(url, { models: [{ model: "m1", price: flat(50n) }], capacity: 1 });
    const r = await connect(url);
    expect(await requestSession(r, requestBody("other"))).toMatchObject({
      ok: false,
      error: { code: "NO_MODEL" },
    });
    const cheap = await requestSession(r, requestBody("m1", 49n));
    expect(cheap).toMatchObject({ ok: false, error: { code: "PRICE_TOO_LOW" } });
    if (!cheap.ok) expect(cheap.error.message).toContain("50");
    expect(await requestSession(r, requestBody("m1", 100n, [p.identityKey]))).toMatchObject({
      ok: false,
      error: { code: "NO_MODEL" },
    });
    expect((await requestSession(r, requestBody("m1", 50n))).ok).toBe(true);
    expect(await requestSession(r, requestBody("m1", 50n))).toMatchObject({
      ok: false,
      error: { code: "ALL_BUSY" },
    });
  });

  it("never gives a provider more sessions than its capacity, and spreads equals in turn", async () => {
    const { url } = await startServer();
    const a = await provider(url, { capacity: 2 });
    const b = await provider(url, { capacity: 2 });
    const requesters = await Promise.all([1, 2, 3, 4, 5].map(() => connect(url)));
    const results = await Promise.all(requesters.map((r) => requestSession(r)));
    const granted = results.filter((x) => x.ok);
    expect(granted).toHaveLength(4);
    expect(results.filter((x) => !x.ok)).toMatchObject([{ error: { code: "ALL_BUSY" } }]);
    expect(a.offers).toHaveLength(2);
    expect(b.offers).toHaveLength(2);
  });

  it("counts the provider's reported load against its capacity", async () => {
    const { url } = await startServer();
    const p = await provider(url, { capacity: 2 });
    const r = await connect(url);
    expect(await call(p.socket, "provider:heartbeat", { v: 1, load: 2 })).toEqual({ ok: true });
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "ALL_BUSY" } });
    await call(p.socket, "provider:heartbeat", { v: 1, load: 1 });
    expect((await requestSession(r)).ok).toBe(true);
  });

  it("removes a provider that misses its heartbeats and tells it to register again", async () => {
    const { url } = await startServer({ heartbeatIntervalMs: 50, heartbeatTimeoutMs: 150 });
    const p = await provider(url);
    const r = await connect(url);
    expect(await next(p.socket, "provider:unregistered")).toEqual({ v: 1, reason: "missed-heartbeats" });
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "NO_MODEL" } });
    expect(await call(p.socket, "provider:heartbeat", { v: 1, load: 0 })).toMatchObject({
      ok: false,
      error: { code: "NOT_REGISTERED" },
    });
  });

  it("streams the live directory to subscribers", async () => {
    const { url } = await startServer();
    const watcher = await connect(url);
    const first = await call<{ ok: boolean; directory: { models: unknown[] } }>(
      watcher,
      "directory:subscribe",
      { v: 1 },
    );
    expect(first).toMatchObject({ ok: true, directory: { v: 1, providers: 0, models: [] } });
    const update = next(watcher, "directory:update");
    await provider(url, {
      models: [
        { model: "m1", price: flat(3n) },
        { model: "m2", price: flat(4n) },
      ],
      capacity: 2,
    });
    await provider(url, { models: [{ model: "m1", price: flat(3n) }] });
    const view = await update;
    expect(view).toMatchObject({ v: 1, providers: expect.any(Number) });
    const settled = await call<{ directory: unknown }>(watcher, "directory:subscribe", { v: 1 });
    expect(settled.directory).toEqual({
      v: 1,
      providers: 2,
      models: [
        {
          model: "m1",
          providers: 2,
          capacity: 3,
          inUse: 0,
          prices: [
            {
              price: { nanoPerToken: "3", promptMultiplierBps: 10_000, completionMultiplierBps: 10_000 },
              providers: 2,
            },
          ],
        },
        {
          model: "m2",
          providers: 1,
          capacity: 2,
          inUse: 0,
          prices: [
            {
              price: { nanoPerToken: "4", promptMultiplierBps: 10_000, completionMultiplierBps: 10_000 },
              providers: 1,
            },
          ],
        },
      ],
    });
  });
});
