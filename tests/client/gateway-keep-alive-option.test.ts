import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeepAliveIntervalError } from "../../client/gateway/event-stream";
import { startGateway } from "../../client/gateway/gateway-server";
import type { SilkClient } from "../../client/sdk/silk-client";
import { cleanup, startServer } from "../signaling/helpers";
import { relayClient, stopAll } from "../support/silk-parties";

/**
 * `startGateway({ keepAliveMs })` with an interval a timer would spin on (0, negative, NaN, just
 * too short, or beyond what Node's timers keep: Infinity, 2^31 ms, run after 1 ms) refuses to start, saying which value, rather than writing SSE keep-alives in a
 * tight loop once a streamed request comes; the shortest interval taken, 100 ms, starts.
 */
let client: SilkClient;

beforeAll(async () => {
  const { url } = await startServer();
  client = await relayClient(url);
}, 30_000);

afterAll(async () => {
  stopAll();
  await cleanup();
});

describe("startGateway's keepAliveMs", () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 99, 2 ** 31])(
    "%s is refused with a KeepAliveIntervalError",
    async (ms) => {
      const start = startGateway({ client, keepAliveMs: ms });
      await expect(start).rejects.toBeInstanceOf(KeepAliveIntervalError);
      await expect(start).rejects.toThrow(
        `keepAliveMs must be a number of milliseconds from 100 to 2147483647: got ${ms}`,
      );
    },
  );

  it("100 ms starts, and the gateway answers", async () => {
    const gateway = await startGateway({ client, keepAliveMs: 100 });
    try {
      const res = await fetch(`${gateway.url}/models`);
      expect(res.status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});
