import { describe, expect, it } from "vitest";
import {
  FEATURES,
  jsonSize,
  MAX_MODEL_ID_CHARS,
  MAX_PRICE_NANO,
  MAX_SIGNALING_MESSAGE_BYTES,
  parseWith,
  SessionRequest,
} from "../../protocol";

/**
 * Every session request the SDK sends passed `SessionRequest` first (peer/signaling-client.ts), and
 * that schema bounds every field, so none can exceed the server's limit for the event
 * (`MAX_SIGNALING_MESSAGE_BYTES`, signaling/event-guard.ts): an oversize session request is
 * impossible by construction, and a server refusing one as `OVERSIZE` lies (peer/signaling-ack.ts).
 * This holds the largest request the schema accepts to the limit, so a bound raised past it fails here.
 */
const key = (i: number) => i.toString(16).padStart(2, "0").repeat(32);

describe("the largest session request the schema accepts", () => {
  it("is well under the server's limit for session:request", () => {
    const largest = {
      v: 1,
      nonce: "f".repeat(32),
      model: "m".repeat(MAX_MODEL_ID_CHARS),
      maxPrice: {
        promptNanoPerToken: MAX_PRICE_NANO.toString(),
        completionNanoPerToken: MAX_PRICE_NANO.toString(),
      },
      sessionKey: key(255),
      exclude: Array.from({ length: 16 }, (_, i) => key(i)),
      needs: Array.from({ length: 8 }, (_, i) => FEATURES[i % FEATURES.length]),
      policy: {
        minStake: (MAX_PRICE_NANO * 10n ** 9n).toString(),
        minAgeSeconds: Number.MAX_SAFE_INTEGER,
        allow: Array.from({ length: 64 }, (_, i) => key(i + 16)),
      },
      minAuditsPassed: Number.MAX_SAFE_INTEGER,
    };
    // Accepted as it is: each list at its schema's longest, each string and number at its widest.
    expect(() => parseWith(SessionRequest, largest, "session request")).not.toThrow();
    expect(() =>
      parseWith(SessionRequest, { ...largest, exclude: [...largest.exclude, key(99)] }, "session request"),
    ).toThrow();
    expect(() =>
      parseWith(SessionRequest, { ...largest, model: `${largest.model}m` }, "session request"),
    ).toThrow();
    // 5,975 bytes of JSON against 32,768: no room for an OVERSIZE the SDK would have to check.
    expect(jsonSize(largest)).toBeLessThan(MAX_SIGNALING_MESSAGE_BYTES / 4);
  });
});
