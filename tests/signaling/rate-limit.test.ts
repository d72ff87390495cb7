import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../signaling/config";
import { KeyedBuckets, TokenBucket } from "../../signaling/rate-limit";

describe("token buckets", () => {
  it("allows a burst, then refills at the rate", () => {
    const b = new TokenBucket({ rate: 2, burst: 3 }, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(499)).toBe(false);
    expect(b.take(500)).toBe(true);
    expect(b.take(10_000, 4)).toBe(false); // never more than the burst
    expect(b.take(10_000, 3)).toBe(true);
  });

  it("keys buckets independently and forgets full ones", () => {
    const k = new KeyedBuckets({ rate: 1, burst: 1 });
    expect(k.take("a", 0)).toBe(true);
    expect(k.take("a", 0)).toBe(false);
    expect(k.take("b", 0)).toBe(true);
    k.prune(5_000);
    expect(k.size).toBe(0);
  });
});

describe("configuration", () => {
  it("reads the environment, then flags, which win", () => {
    const c = loadConfig(
      {
        PORT: "9000",
        OFFER_TIMEOUT_MS: "500",
        STUN_URLS: "stun:a:3478, stun:b:3478",
        ALLOWED_ORIGINS: "https://x.org",
      },
      ["--port", "9100", "--max-offer-attempts=5"],
    );
    expect(c).toMatchObject({
      port: 9100,
      offerTimeoutMs: 500,
      maxOfferAttempts: 5,
      allowedOrigins: ["https://x.org"],
    });
    expect(c.iceServers).toEqual([{ urls: ["stun:a:3478", "stun:b:3478"] }]);
  });

  it("takes ICE servers as JSON and refuses nonsense", () => {
    const ice = [{ urls: "turn:t.org:3478", username: "u", credential: "p" }];
    expect(loadConfig({ ICE_SERVERS: JSON.stringify(ice) }).iceServers).toEqual(ice);
    expect(() => loadConfig({ ICE_SERVERS: "[{" })).toThrow(ConfigError);
    expect(() => loadConfig({ ICE_SERVERS: '[{"urls":1}]' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "abc" })).toThrow(ConfigError);
    expect(() => loadConfig({ TRANSPORTS: "carrier-pigeon" })).toThrow(ConfigError);
    expect(() => loadConfig({}, ["--port"])).toThrow(ConfigError);
  });
});
