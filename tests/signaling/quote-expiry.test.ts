import { afterEach, describe, expect, it } from "vitest";
import { SignalingClient } from "../../peer/signaling-client";
import { SignalingError } from "../../peer/signaling-errors";
import { flatPrice, generateKeyPair, quoteFault } from "../../protocol";
import { startMitm } from "../support/mitm-signaling";
import {
  cleanup,
  connect,
  flat,
  type Granted,
  next,
  PAYOUT,
  provider,
  requestBody,
  requestSession,
  startServer,
} from "./helpers";

/**
 * A provider's quotes hold for a day (QUOTE_TTL_MS) and are signed at registration. One connected
 * for longer must not keep being offered with a quote every requester reads as forged: the server
 * offers nobody whose quote is running out, removes it and says why; a real provider registers
 * again with fresh quotes halfway through their life, so it is never removed.
 */
const clients: SignalingClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cleanup();
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("signed quotes running out", () => {
  it("offers the next provider, not one whose quote is about to run out", async () => {
    // Wide windows, so a loaded machine does not decide it: the quote is inside the margin from
    // 1.5 s on; the first request comes well before that.
    const { url } = await startServer({ quoteMarginMs: 3_000 });
    const expiresAt = Date.now() + 4_500;
    const cheap = await provider(url, {
      models: [{ model: "m1", price: flat(5n) }],
      capacity: 2,
      quoteExpiresAt: expiresAt,
    });
    const dear = await provider(url, { models: [{ model: "m1", price: flat(10n) }] });
    const r = await connect(url);
    const before = (await requestSession(r)) as Granted;
    expect(before.provider.identityKey).toBe(cheap.identityKey);
    await wait(expiresAt - 3_000 - Date.now() + 50); // inside the margin now
    const after = await requestSession(r, requestBody("m1", 100n));
    expect(after).toMatchObject({ ok: true, provider: { identityKey: dear.identityKey } });
    expect(cheap.offers).toHaveLength(1);
  });

  it("refuses NO_MODEL when every provider's quote ran out, and tells each to register again", async () => {
    // The sweep runs at half the heartbeat interval: every 50 ms here.
    const { url } = await startServer({ quoteMarginMs: 0, heartbeatIntervalMs: 100 });
    const p = await provider(url, { quoteExpiresAt: Date.now() + 1_500 });
    const r = await connect(url);
    expect(await next(p.socket, "provider:unregistered")).toEqual({ v: 1, reason: "quote-expired" });
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "NO_MODEL" } });
  });

  it("a provider renews its quotes halfway through, stays listed and is granted with a valid one", async () => {
    const { url } = await startServer({ quoteMarginMs: 500, heartbeatIntervalMs: 1_000 });
    const identity = generateKeyPair();
    const states: string[] = [];
    const client = await SignalingClient.connect(url, { onState: (s) => states.push(s.phase) });
    clients.push(client);
    const price = flatPrice(10n);
    await client.register({
      identity,
      payout: PAYOUT,
      models: [{ model: "m1", price }],
      capacity: 1,
      device: { adapter: "test", memoryMB: 1024 },
      quoteTtlMs: 3_000,
    });
    client.onOffer(async () => true);
    const r = await connect(url);
    const first = (await requestSession(r)) as Granted & { provider: { quote: { expiresAt: number } } };
    const firstExpiry = first.provider.quote.expiresAt;
    await r.timeout(5_000).emitWithAck("session:end", { v: 1, sessionId: first.sessionId });
    // Past the first quote's end and the server's margin before it: still listed, never removed.
    await wait(firstExpiry - Date.now() + 200);
    const later = (await requestSession(r)) as Granted & {
      provider: { quote: { expiresAt: number; signature: string } };
    };
    expect(later.ok).toBe(true);
    const quote = later.provider.quote;
    expect(quote.expiresAt).toBeGreaterThan(firstExpiry);
    const terms = { identityKey: later.provider.identityKey, payout: PAYOUT, model: "m1", price };
    expect(quoteFault({ ...terms, expiresAt: quote.expiresAt }, quote, Date.now())).toBeUndefined();
    expect(states.filter((s) => s === "registering").length).toBeGreaterThanOrEqual(1);
    expect(client.state.phase).toBe("registered");
  });

  it("refuses, by name, a registration whose quotes live no longer than the server's margin", async () => {
    // The default margin (60 s): a 30 s quote would never be offered and be swept within seconds.
    const { url } = await startServer();
    const register = async (quoteTtlMs: number) => {
      const client = await SignalingClient.connect(url);
      clients.push(client);
      return client.register({
        identity: generateKeyPair(),
        payout: PAYOUT,
        models: [{ model: "m1", price: flatPrice(10n) }],
        capacity: 1,
        device: { adapter: "test", memoryMB: 1024 },
        quoteTtlMs,
      });
    };
    const refused = await register(30_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(SignalingError);
    expect((refused as SignalingError).code).toBe("QUOTE_TOO_SHORT");
    expect((refused as SignalingError).message).toMatch(/quote of m1 has \d+ ms left/);
    expect((refused as SignalingError).message).toContain("margin of 60000 ms (QUOTE_MARGIN_MS)");
    const r = await connect(url);
    expect(await requestSession(r)).toMatchObject({ ok: false, error: { code: "NO_MODEL" } });
    // Past the margin, the same registration is listed.
    await register(90_000);
    expect(await requestSession(r)).toMatchObject({ ok: true });
  });

  it("a quote living less than twice the margin is renewed before the sweep would drop it", async () => {
    // Halfway through an 8 s quote (4 s) is past the point the server's 5 s margin starts (3 s):
    // renewing halfway, the provider would be swept and told `quote-expired` first.
    const { url } = await startServer({ quoteMarginMs: 5_000, heartbeatIntervalMs: 1_000 });
    const mitm = await startMitm(url);
    const client = await SignalingClient.connect(mitm.url);
    clients.push(client);
    await client.register({
      identity: generateKeyPair(),
      payout: PAYOUT,
      models: [{ model: "m1", price: flatPrice(10n) }],
      capacity: 1,
      device: { adapter: "test", memoryMB: 1024 },
      quoteTtlMs: 8_000,
    });
    const registrations = () =>
      mitm.log.filter(
        (m) => m.event === "provider:register" && m.kind === "ack" && m.direction === "to-party",
      );
    // Past where the first quote would have been swept, and its renewal's.
    await wait(6_000);
    const swept = mitm.log.filter((m) => m.event === "provider:unregistered");
    expect(swept.map((m) => m.args[0])).toEqual([]);
    expect(registrations().length).toBeGreaterThanOrEqual(3);
    await mitm.close();
  });
});
