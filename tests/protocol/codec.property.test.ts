import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeJson,
  encodeJson,
  fingerprintFromSdp,
  HandshakeError,
  MalformedMessageError,
  OversizeMessageError,
  ProviderRegister,
  parseSessionMessage,
  parseWith,
  SessionRequest,
  SilkError,
  UnknownMessageTypeError,
  utf8,
  VersionMismatchError,
} from "../../protocol";

const valid = [
  {
    v: 1,
    t: "request",
    id: "r1",
    model: "Llama-3.2-1B-Instruct-q4f32_1-MLC",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 16,
    temperature: 0.7,
    top_p: 0.9,
    seed: 42,
    stop: ["\n\n"],
  },
  { v: 1, t: "tokens", id: "r1", text: "Hello", count: 1, total: 1 },
  { v: 1, t: "done", id: "r1", finish_reason: "stop", usage: { prompt_tokens: 10, completion_tokens: 1 } },
  { v: 1, t: "cancel", id: "r1" },
  { v: 1, t: "receipt", receipt: "te6cc" },
  { v: 1, t: "credit-wait", id: "r1" },
  { v: 1, t: "error", error: { code: "MALFORMED", message: "bad" } },
] as const;

describe("session message schemas", () => {
  it("accepts every valid message type unchanged", () => {
    for (const m of valid) expect(parseSessionMessage(structuredClone(m))).toEqual(m);
  });

  it("names the way a message is wrong", () => {
    expect(() => parseSessionMessage({ v: 1, t: "teleport" })).toThrow(UnknownMessageTypeError);
    expect(() => parseSessionMessage({ v: 2, t: "cancel", id: "x" })).toThrow(VersionMismatchError);
    expect(() => parseSessionMessage({ v: 1, t: "cancel" })).toThrow(MalformedMessageError);
    expect(() => parseSessionMessage([])).toThrow(MalformedMessageError);
    expect(() => parseSessionMessage({ ...valid[0], temperature: 9 })).toThrow(MalformedMessageError);
    expect(() => parseSessionMessage({ ...valid[0], messages: [] })).toThrow(MalformedMessageError);
    expect(() => parseSessionMessage({ ...valid[0], messages: [{ role: "root", content: "x" }] })).toThrow(
      MalformedMessageError,
    );
  });

  it("never echoes a message's content in its error", () => {
    const secret = "my secret prompt";
    try {
      parseSessionMessage({ ...valid[0], max_tokens: secret });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(secret);
    }
  });

  it("refuses any random value with a typed error, never a crash (property-based)", () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        try {
          parseSessionMessage(junk);
        } catch (err) {
          expect(err).toBeInstanceOf(SilkError);
        }
      }),
    );
  });

  it("refuses random mutations of valid messages with typed errors only (property-based)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.string({ maxLength: 12 }), fc.anything(), (m, key, value) => {
        const mutated: Record<string, unknown> = { ...structuredClone(m), [key]: value };
        try {
          parseSessionMessage(mutated);
        } catch (err) {
          expect(err).toBeInstanceOf(SilkError);
        }
      }),
    );
  });
});

describe("JSON framing", () => {
  it("round-trips any JSON value within the limit (property-based)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const bytes = encodeJson(value, 1 << 20);
        expect(decodeJson(bytes, 1 << 20)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it("refuses random bytes with a typed error (property-based)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeJson(bytes, 1024);
        } catch (err) {
          expect(err).toBeInstanceOf(SilkError);
        }
      }),
    );
  });

  it("refuses oversize before parsing, and invalid UTF-8", () => {
    expect(() => decodeJson(utf8("[1,2,3]"), 3)).toThrow(OversizeMessageError);
    expect(() => encodeJson("x".repeat(10), 5)).toThrow(OversizeMessageError);
    expect(() => decodeJson(new Uint8Array([0x22, 0xff, 0x22]), 10)).toThrow(MalformedMessageError);
  });
});

describe("signaling schemas", () => {
  const key = "ab".repeat(32);
  it("parses prices into bigints and refuses out-of-range ones", () => {
    const req = {
      v: 1,
      model: "m",
      maxPrice: { promptNanoPerToken: "10", completionNanoPerToken: "20" },
      sessionKey: key,
    };
    expect(parseWith(SessionRequest, req, "request").maxPrice.completionNanoPerToken).toBe(20n);
    for (const bad of ["-1", "1.5", "01", "1e3", "9".repeat(40), ""]) {
      expect(() =>
        parseWith(
          SessionRequest,
          { ...req, maxPrice: { ...req.maxPrice, promptNanoPerToken: bad } },
          "request",
        ),
      ).toThrow(MalformedMessageError);
    }
  });

  it("bounds the lists a provider may register", () => {
    const offer = {
      model: "m",
      price: { nanoPerToken: "1", promptMultiplierBps: 10000, completionMultiplierBps: 10000 },
    };
    const reg = {
      v: 1,
      identityKey: key,
      challenge: key,
      signature: key + key,
      payout: `0:${"22".repeat(32)}`,
      models: [offer],
      capacity: 2,
      device: {},
    };
    expect(parseWith(ProviderRegister, reg, "register").capacity).toBe(2);
    expect(() => parseWith(ProviderRegister, { ...reg, models: Array(33).fill(offer) }, "register")).toThrow(
      MalformedMessageError,
    );
    expect(() => parseWith(ProviderRegister, { ...reg, capacity: 0 }, "register")).toThrow(
      MalformedMessageError,
    );
    expect(() => parseWith(ProviderRegister, { ...reg, identityKey: key.toUpperCase() }, "register")).toThrow(
      MalformedMessageError,
    );
  });
});

describe("DTLS fingerprints from SDP", () => {
  const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256 ab:cd:EF:01\r\na=setup:actpass\r\n";
  it("reads them into one canonical form", () => {
    expect(fingerprintFromSdp(sdp)).toBe("sha-256 AB:CD:EF:01");
    expect(fingerprintFromSdp(sdp.replace("ab:cd", "AB:CD"))).toBe(fingerprintFromSdp(sdp));
  });
  it("refuses an SDP without one", () => {
    expect(() => fingerprintFromSdp("v=0\r\n")).toThrow(HandshakeError);
  });
});
