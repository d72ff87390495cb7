import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * Structured logs. The server logs socket ids, session ids, event names and error codes; never a
 * key, a signature, an SDP or a frame. The redaction list is a second line of defence for fields
 * that should never have been passed in the first place.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "silk-signaling" },
    redact: {
      paths: [
        "identityKey",
        "sessionKey",
        "signature",
        "challenge",
        "data",
        "frame",
        "payload",
        "*.identityKey",
        "*.sessionKey",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
