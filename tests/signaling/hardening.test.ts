import { io as connectClient } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { encodePublicKey, generateKeyPair, signRegistration } from "../../protocol";
import {
  call,
  captureLogger,
  cleanup,
  connect,
  flat,
  next,
  provider,
  registrationBody,
  requestBody,
  requestSession,
  signedRegistration,
  startServer,
} from "./helpers";

afterEach(cleanup);

async function challenge(socket: Awaited<ReturnType<typeof connect>>) {
  return (await call<{ challenge: string }>(socket, "provider:challenge", { v: 1 })).challenge;
}

describe("signaling: spoofing and session isolation", () => {
  it("refuses spoofed, tampered and replayed registrations and lists none of them", async () => {
    const { url } = await startServer();
    const s = await connect(url);
    const victim = generateKeyPair();
    const attacker = generateKeyPair();

    // Claims the victim's key, signs with its own.
    const spoof = {
      ...signedRegistration(attacker, await challenge(s)),
      identityKey: encodePublicKey(victim.publicKey),
    };
    expect(await call(s, "provider:register", spoof)).toMatchObject({
      ok: false,
      error: { code: "BAD_SIGNATURE" },
    });

    // A quote its key did not sign, an expired one, or none: each would have every requester blame
    // the server for this provider's grants (QUOTE_FORGED) while it stays on offer.
    const quoted = async (quote: { expiresAt: number; signature: string } | undefined) => {
      const c = await challenge(s);
      const body = registrationBody(attacker, c);
      const [first] = body.models;
      const models = [{ model: first!.model, price: first!.price, ...(quote && { quote }) }];
      const changed = { ...body, models };
      return call(s, "provider:register", {
        ...changed,
        signature: signRegistration(attacker.secretKey, c, changed),
      });
    };
    const honest = registrationBody(attacker, "00".repeat(32)).models[0]!.quote;
    for (const [quote, code] of [
      [{ ...honest, signature: "cd".repeat(64) }, "BAD_SIGNATURE"],
      [{ ...honest, expiresAt: 1 }, "BAD_SIGNATURE"],
      [undefined, "MALFORMED"],
    ] as const)
      expect(await quoted(quote)).toMatchObject({ ok: false, error: { code } });

    // Signed, then a claim changed in flight.
    const tampered = { ...signedRegistration(attacker, await challenge(s)), capacity: 64 };
    expect(await call(s, "provider:register", tampered)).toMatchObject({
      ok: false,
      error: { code: "BAD_SIGNATURE" },
    });

    // A registration signed for another socket's challenge, and a challenge used twice.
    const other = await connect(url);
    other.on("session:offer", (_offer: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
    const stolen = signedRegistration(victim, await challenge(other));
    await challenge(s);
    expect(await call(s, "provider:register", stolen)).toMatchObject({
      ok: false,
      error: { code: "BAD_CHALLENGE" },
    });
    expect(await call(other, "provider:register", stolen)).toEqual(expect.objectContaining({ ok: true }));
    expect(await call(other, "provider:register", stolen)).toMatchObject({
      ok: false,
      error: { code: "BAD_CHALLENGE" },
    });
    // Without any challenge at all.
    const fresh = await connect(url);
    expect(await call(fresh, "provider:register", stolen)).toMatchObject({
      ok: false,
      error: { code: "BAD_CHALLENGE" },
    });

    // Only the honest registration is listed.
    const r = await connect(url);
    const granted = await requestSession(r);
    expect(granted).toMatchObject({ ok: true, provider: { identityKey: encodePublicKey(victim.publicKey) } });
    expect(await call(s, "provider:heartbeat", { v: 1, load: 0 })).toMatchObject({
      error: { code: "NOT_REGISTERED" },
    });
  });

  it("refuses a third socket relaying signals, frames or an end into someone else's session", async () => {
    const { url } = await startServer();
    const p = await provider(url);
    const r = await connect(url);
    const intruder = await connect(url);
    const granted = await requestSession(r);
    if (!granted.ok) throw new Error("expected a session");
    const { sessionId } = granted;

    const seen: unknown[] = [];
    p.socket.on("session:signal", (m) => seen.push(m));
    p.socket.on("session:frame", (m) => seen.push(m));
    p.socket.on("session:ended", (m) => seen.push(m));
    const refused = { ok: false, error: { code: "NOT_IN_SESSION" } };
    expect(
      await call(intruder, "session:signal", { v: 1, sessionId, data: { type: "offer", sdp: "evil" } }),
    ).toMatchObject(refused);
    expect(
      await call(intruder, "session:frame", { v: 1, sessionId, frame: new Uint8Array([6, 6, 6]) }),
    ).toMatchObject(refused);
    expect(await call(intruder, "session:end", { v: 1, sessionId })).toMatchObject(refused);

    // A party's signal that is a list, not an object, is refused by name and never relayed.
    expect(await call(r, "session:signal", { v: 1, sessionId, data: ["offer", "evil"] })).toMatchObject({
      ok: false,
      error: { code: "MALFORMED" },
    });

    // What the provider receives next is the requester's signal; nothing from the intruder came first.
    const legit = next(p.socket, "session:signal");
    await call(r, "session:signal", { v: 1, sessionId, data: { type: "offer", sdp: "good" } });
    expect(await legit).toMatchObject({ data: { sdp: "good" } });
    expect(seen).toEqual([{ v: 1, sessionId, data: { type: "offer", sdp: "good" } }]);
  });
});

describe("signaling: junk, oversize and floods", () => {
  it("answers junk with typed errors and still pairs afterwards", async () => {
    const { url } = await startServer({ maxPacketBytes: 200 * 1024 });
    await provider(url);
    const j = await connect(url);
    const junk: unknown[] = [
      null,
      42,
      "text",
      [],
      [1, 2],
      true,
      {},
      { v: 1 },
      { v: 2, model: "m1" },
      { v: 1, model: 5 },
    ];
    for (const event of [
      "provider:register",
      "session:request",
      "session:signal",
      "session:frame",
      "session:end",
      "provider:heartbeat",
    ]) {
      for (const payload of junk) {
        const res = await call<{ ok: boolean; error: { code: string } }>(j, event, payload);
        expect(res.ok).toBe(false);
        expect(["MALFORMED", "VERSION", "NOT_REGISTERED"]).toContain(res.error.code);
      }
    }
    // Names both versions, so a requester can tell the skew (peer/version-skew-server).
    expect(await call(j, "session:request", { ...requestBody(), v: 99 })).toMatchObject({
      error: {
        code: "VERSION",
        message: expect.stringContaining("99 is not supported (this node speaks 1)"),
      },
    });
    expect(await call(j, "no:such-event", { v: 1 })).toMatchObject({
      ok: false,
      error: { code: "MALFORMED" },
    });
    expect(await j.timeout(5000).emitWithAck("session:request", requestBody(), "extra")).toMatchObject({
      error: { code: "MALFORMED" },
    });
    // Deeply nested, a binary where an object belongs, a prototype-pollution attempt.
    let deep: unknown = {};
    for (let i = 0; i < 2000; i++) deep = { a: deep };
    expect(await call(j, "session:request", deep)).toMatchObject({ ok: false });
    expect(await call(j, "session:request", new Uint8Array(10))).toMatchObject({ ok: false });
    expect(await call(j, "session:request", JSON.parse('{"__proto__":{"ok":true},"v":1}'))).toMatchObject({
      ok: false,
    });

    // Without an ack callback the error comes back as an event.
    const told = next(j, "server:error");
    j.emit("session:request", { v: 1 });
    expect(await told).toMatchObject({ event: "session:request", error: { code: "MALFORMED" } });

    // Oversize within the packet limit: a typed error.
    const big = { v: 1, sessionId: "x", data: { sdp: "x".repeat(40 * 1024) } };
    expect(await call(j, "session:signal", big)).toMatchObject({ error: { code: "OVERSIZE" } });
    expect(
      await call(j, "session:frame", { v: 1, sessionId: "x", frame: new Uint8Array(64 * 1024 + 1) }),
    ).toMatchObject({
      error: { code: "OVERSIZE" },
    });

    // Beyond the packet limit: that connection is dropped, the server carries on.
    const gone = next(j, "disconnect");
    j.emit("session:signal", { v: 1, sessionId: "x", data: { sdp: "x".repeat(300 * 1024) } });
    await gone;

    const r = await connect(url);
    expect((await requestSession(r)).ok).toBe(true);
  });

  it("answers a payload nested too deeply to measure (sent raw: a socket.io client cannot encode it) with a typed OVERSIZE", async () => {
    const { url } = await startServer();
    const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    const got: string[] = [];
    ws.on("message", (data) => {
      got.push(data.toString());
      if (data.toString() === "2") ws.send("3");
    });
    await new Promise((opened) => ws.once("open", opened));
    ws.send("40");
    await expect.poll(() => got.some((t) => t.startsWith("40"))).toBe(true);
    ws.send(`421["session:request",${"[".repeat(50_000)}${"]".repeat(50_000)}]`);
    await expect.poll(() => got.find((t) => t.startsWith("431")), { timeout: 10_000 }).toBeDefined();
    const [ack] = JSON.parse(got.find((t) => t.startsWith("431"))!.slice(3)) as [
      { error: { message: string } },
    ];
    expect(ack).toMatchObject({ ok: false, error: { code: "OVERSIZE" } });
    expect(ack.error.message).toMatch(/nested too deeply/);
    ws.close();
    // The node is still up and pairs.
    const j = await connect(url);
    expect(await call(j, "session:request", requestBody())).toMatchObject({
      ok: false,
      error: { code: "NO_MODEL" },
    });
  });

  it("rate-limits events per socket, session requests per socket and per IP, and relay per session", async () => {
    const { url } = await startServer({
      eventsPerSecond: 1,
      eventBurst: 30,
      requestsPerSecond: 0.01,
      requestBurst: 2,
      ipRequestsPerSecond: 0.01,
      ipRequestBurst: 3,
      relayFramesPerSecond: 2,
      relayBytesPerSecond: 1,
    });
    await provider(url, { capacity: 8 });
    const r = await connect(url);
    const first = await requestSession(r);
    if (!first.ok) throw new Error("expected a session");
    expect((await requestSession(r)).ok).toBe(true);
    expect(await requestSession(r)).toMatchObject({ error: { code: "RATE_LIMITED" } });
    const r2 = await connect(url);
    expect((await requestSession(r2)).ok).toBe(true);
    expect(await requestSession(r2)).toMatchObject({ error: { code: "RATE_LIMITED" } }); // the IP's budget is spent

    const frame = { v: 1, sessionId: first.sessionId, frame: new Uint8Array(1000) };
    expect(await call(r, "session:frame", frame)).toEqual({ ok: true });
    expect(await call(r, "session:frame", frame)).toEqual({ ok: true });
    expect(await call(r, "session:frame", frame)).toMatchObject({ error: { code: "RATE_LIMITED" } });

    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        call<{ ok: boolean; error?: { code: string } }>(r2, "provider:heartbeat", { v: 1, load: 0 }),
      ),
    );
    expect(results.filter((x) => x.error?.code === "RATE_LIMITED").length).toBeGreaterThan(0);
  });

  it("relays a long answer on the session's own budget only, while refused frames spend the event budget", async () => {
    const { url } = await startServer({
      eventsPerSecond: 0.01,
      eventBurst: 20,
      relayFramesPerSecond: 1_000_000,
      relayBytesPerSecond: 1e9,
    });
    await provider(url);
    const r = await connect(url);
    const granted = await requestSession(r);
    if (!granted.ok) throw new Error("expected a session");
    // A thousand frames in the session: fifty times the socket's whole event budget, all taken.
    const frame = { v: 1, sessionId: granted.sessionId, frame: new Uint8Array(100) };
    const acks = await Promise.all(
      Array.from({ length: 1_000 }, () => call<{ ok: boolean }>(r, "session:frame", frame)),
    );
    expect(acks.filter((a) => a.ok)).toHaveLength(1_000);

    // Frames into a session the socket is not in are refused, and each refusal costs it an event.
    const junk = { v: 1, sessionId: "not-mine", frame: new Uint8Array(100) };
    const refused = await Promise.all(
      Array.from({ length: 40 }, () =>
        call<{ ok: boolean; error?: { code: string } }>(r, "session:frame", junk),
      ),
    );
    const codes = refused.map((x) => x.error?.code);
    expect(codes.filter((c) => c === "NOT_IN_SESSION").length).toBeLessThanOrEqual(20);
    expect(codes.filter((c) => c === "RATE_LIMITED").length).toBeGreaterThanOrEqual(20);
    // The flood spent the socket's budget for everything else too.
    expect(await call(r, "provider:heartbeat", { v: 1, load: 0 })).toMatchObject({
      error: { code: "RATE_LIMITED" },
    });
  });

  it("limits new connections per IP and refuses origins not on the list", async () => {
    const { url } = await startServer({
      ipConnectionBurst: 2,
      ipConnectionsPerMinute: 1,
      allowedOrigins: ["https://silk.example"],
    });
    const ok = connectClient(url, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { origin: "https://silk.example" },
    });
    await new Promise<void>((resolve, reject) => {
      ok.once("connect", () => resolve());
      ok.once("connect_error", reject);
    });
    ok.disconnect();
    const evil = connectClient(url, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      extraHeaders: { origin: "https://evil.example" },
    });
    await expect(
      new Promise<void>((resolve, reject) => {
        evil.once("connect", () => resolve());
        evil.once("connect_error", reject);
      }),
    ).rejects.toBeDefined();
    evil.disconnect();
    // The refused origin cost nothing; the burst of two allows one more, then no more.
    await connect(url);
    await expect(connect(url)).rejects.toBeDefined();
  });

  it("never logs keys, signatures, SDP or frames", async () => {
    const { logger, lines } = captureLogger("debug");
    const { url } = await startServer({ logger, offerTimeoutMs: 100 });
    const p = await provider(url, { models: [{ model: "m1", price: flat(1n) }] });
    const silent = await provider(url, { models: [{ model: "m1", price: flat(2n) }], answer: "silent" });
    const r = await connect(url);
    const body = requestBody();
    const granted = await requestSession(r, body);
    if (!granted.ok) throw new Error("expected a session");
    await call(r, "session:signal", {
      v: 1,
      sessionId: granted.sessionId,
      data: { sdp: "SECRET-SDP-MARKER" },
    });
    await call(r, "session:frame", {
      v: 1,
      sessionId: granted.sessionId,
      frame: new TextEncoder().encode("SECRET-FRAME"),
    });
    const spoof = signedRegistration(generateKeyPair(), "00".repeat(32));
    await call(r, "provider:register", spoof);
    await call(r, "session:request", { ...body, model: "SECRET-JUNK", maxPrice: "x" });
    await requestSession(r, requestBody("m1", 100n, [p.identityKey])); // goes to the silent one, fails
    p.socket.disconnect();
    await next(r, "session:ended");

    const log = lines.join("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [
      p.identityKey,
      silent.identityKey,
      body.sessionKey,
      spoof.signature,
      spoof.identityKey,
    ]) {
      expect(log).not.toContain(secret);
    }
    expect(log).not.toContain("SECRET");
  });
});
