import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  acceptSession,
  CounterOverflowError,
  DecryptError,
  generateKeyPair,
  initiateSession,
  memoryPipe,
  ReplayError,
  type SecureSession,
  type SessionMessage,
  type SessionMessageInput,
  SilkError,
} from "../../protocol";
import { Reassembler, splitMessage } from "../../protocol/session/chunks";
import { MAX_COUNTER, ReceiveCipher, SendCipher } from "../../protocol/session/cipher";

const KEY = new Uint8Array(32).fill(7);

/** Runs `fn` and reports what it threw: a SilkError is a clean refusal, anything else is a crash. */
function refusal(fn: () => unknown): SilkError | "accepted" | "crash" {
  try {
    fn();
    return "accepted";
  } catch (err) {
    return err instanceof SilkError ? err : "crash";
  }
}

describe("frames (property-based)", () => {
  it("round-trips any plaintext in order", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 20 }), (plaintexts) => {
        const send = new SendCipher(KEY);
        const recv = new ReceiveCipher(KEY);
        for (const p of plaintexts) expect(recv.open(send.seal(p))).toEqual(p);
      }),
    );
  });

  it("rejects random bytes as frames with a typed error, never a crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (junk) => {
        const result = refusal(() => new ReceiveCipher(KEY).open(junk));
        expect(result).toBeInstanceOf(SilkError);
      }),
    );
  });

  it("rejects any single tampered byte, and any truncation", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(),
        (plaintext, at, xor, cut) => {
          const frame = new SendCipher(KEY).seal(plaintext);
          const tampered = frame.slice();
          tampered[at % tampered.length]! ^= xor;
          expect(refusal(() => new ReceiveCipher(KEY).open(tampered))).toBeInstanceOf(SilkError);
          const truncated = frame.slice(0, cut % frame.length);
          expect(refusal(() => new ReceiveCipher(KEY).open(truncated))).toBeInstanceOf(SilkError);
        },
      ),
    );
  });

  it("rejects replayed and reordered frames", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.nat(), fc.nat(), (n, i, j) => {
        const send = new SendCipher(KEY);
        const frames = Array.from({ length: n }, (_, k) => send.seal(new Uint8Array([k])));
        const a = i % n;
        const b = j % n;
        const recv = new ReceiveCipher(KEY);
        for (let k = 0; k < a; k++) recv.open(frames[k]!);
        recv.open(frames[a]!);
        // Anything but the next frame, including the one just accepted, is refused.
        const wrong = b === a + 1 ? a : b;
        expect(refusal(() => recv.open(frames[wrong]!))).toBeInstanceOf(ReplayError);
      }),
    );
  });

  it("refuses a frame sealed under the other direction's key", () => {
    const frame = new SendCipher(KEY).seal(new Uint8Array([1, 2, 3]));
    expect(() => new ReceiveCipher(new Uint8Array(32).fill(8)).open(frame)).toThrow(DecryptError);
  });

  it("treats counter exhaustion as an error, not a wrap", () => {
    const send = new SendCipher(KEY, MAX_COUNTER);
    send.seal(new Uint8Array(1));
    expect(() => send.seal(new Uint8Array(1))).toThrow(CounterOverflowError);
  });
});

describe("chunking (property-based)", () => {
  it("splits and reassembles any message, with every piece within the frame limit", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 700 }), (message, size) => {
        const pieces = splitMessage(message, size);
        const r = new Reassembler();
        let out: Uint8Array | undefined;
        for (const p of pieces) {
          expect(p.length).toBeLessThanOrEqual(size + 1);
          out = r.push(p);
        }
        expect(out).toEqual(message);
      }),
    );
  });

  it("refuses random piece sequences with typed errors only", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (pieces) => {
        const r = new Reassembler(256);
        for (const p of pieces) {
          const result = refusal(() => r.push(p));
          expect(result).not.toBe("crash");
          if (result !== "accepted") break;
        }
      }),
    );
  });
});

async function pair(tap?: Parameters<typeof memoryPipe>[0]): Promise<[SecureSession, SecureSession]> {
  const identity = generateKeyPair();
  const p = { sessionId: "prop", requesterFingerprint: "a", providerFingerprint: "b" };
  const [a, b] = memoryPipe(tap);
  return Promise.all([
    initiateSession(a, { ...p, providerIdentity: identity.publicKey, sessionKey: generateKeyPair() }),
    acceptSession(b, { ...p, identity }),
  ]);
}

describe("established session under random tampering (property-based)", () => {
  it("ends the session with a typed error whenever a frame in flight is altered, and never delivers it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        let armed = false;
        const [requester, provider] = await pair((frame, from) => {
          if (armed && from === "a") {
            frame[at % frame.length]! ^= xor;
          }
          return frame;
        });
        const delivered: SessionMessage[] = [];
        provider.onMessage((m) => delivered.push(m));
        const closed = new Promise<Error | undefined>((resolve) => provider.onClose(resolve));
        armed = true;
        await requester.send({ v: 1, t: "cancel", id: "x" });
        const reason = await closed;
        expect(reason).toBeInstanceOf(SilkError);
        expect(delivered).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it("ends the session when a frame is replayed or dropped", async () => {
    for (const mode of ["replay", "drop"] as const) {
      let count = 0;
      const [requester, provider] = await pair((frame, from) => {
        if (from !== "a") return frame;
        count++;
        // Frames from a: hello, auth, then data. Act on the second data frame.
        if (count === 4) return mode === "replay" ? [frame, frame] : null;
        return frame;
      });
      const delivered: string[] = [];
      provider.onMessage((m) => delivered.push(m.t === "cancel" ? m.id : m.t));
      const closed = new Promise<Error | undefined>((resolve) => provider.onClose(resolve));
      for (const id of ["1", "2", "3"]) await requester.send({ v: 1, t: "cancel", id });
      expect(await closed).toBeInstanceOf(ReplayError);
      expect(delivered).toEqual(mode === "replay" ? ["1", "2"] : ["1"]);
    }
  });

  it("answers a well-encrypted but invalid message with a typed error and goes on", async () => {
    const [requester, provider] = await pair();
    const errors: SessionMessage[] = [];
    requester.onMessage((m) => errors.push(m));
    const got: SessionMessage[] = [];
    provider.onMessage((m) => got.push(m));
    // Bypass the type system: a peer running other code can send anything.
    await requester.send({ v: 1, t: "nonsense" } as unknown as SessionMessageInput);
    await requester.send({ v: 2, t: "cancel", id: "a" } as unknown as SessionMessageInput);
    // A request the schema refuses is answered with its id, so the sender fails that request only.
    await requester.send({ v: 1, t: "request", id: "bad1", model: "m", messages: [] } as SessionMessageInput);
    await requester.send({ v: 1, t: "cancel", id: "ok" });
    await expect.poll(() => got.length + errors.length, { timeout: 5000 }).toBe(4);
    expect(got).toEqual([{ v: 1, t: "cancel", id: "ok" }]);
    expect(errors.map((e) => (e.t === "error" ? `${e.error.code}:${e.id ?? ""}` : e.t))).toEqual([
      "UNKNOWN_TYPE:",
      "VERSION:a",
      "MALFORMED:bad1",
    ]);
    expect(provider.isOpen).toBe(true);
  });
});
