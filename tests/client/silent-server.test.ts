import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { SignalingError } from "../../peer/signaling-client";
import { cleanup, startServer } from "../signaling/helpers";
import { ask, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server that accepts the connection and then never answers: a real socket.io server
 * on loopback whose handlers take every event and never ack (hung handlers, a wedged node). Every
 * SDK call ends by its deadline with a typed error naming the server; a request with another
 * server configured goes on there, as after a node whose Redis is down.
 */
async function silentServer(): Promise<{ url: string; io: Server }> {
  const io = new Server();
  const http = createServer();
  io.attach(http);
  io.on("connection", (socket) => {
    socket.onAny(() => undefined);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, io };
}
const { url: silent, io } = await silentServer();

/** The grant's deadline, shortened from 15 s. */
const GRANT_MS = 2_000;
const deadlines = { requested: GRANT_MS };

afterEach(async () => {
  stopAll();
  await cleanup();
});
afterAll(async () => {
  await io.close();
});

describe("a signaling server that accepts and never answers", () => {
  it("alone: a chat request and models.list each end TIMEOUT naming it", async () => {
    const client = await relayClient(silent, { deadlines });
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    expect((err as Error).message).toContain(`the signaling server at ${silent} did not answer`);
    const listed = await client.models.list().catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(SignalingError);
    expect((listed as SignalingError).code).toBe("TIMEOUT");
    expect((listed as Error).message).toContain(silent);
  }, 60_000);

  it("with another server configured: the request goes on there and is answered", async () => {
    const { url } = await startServer();
    await relayProvider(url);
    const client = await relayClient([silent, url].join(","), { deadlines });
    const answer = await ask(client, "anyone awake");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone awake");
  }, 60_000);

  it("with a grant deadline longer than the 15 s ack deadline: goes on at the next server all the same", async () => {
    const { url } = await startServer();
    await relayProvider(url);
    const client = await relayClient([silent, url].join(","), { deadlines: { requested: 40_000 } });
    // At 15 s the request's own models lookup (directory:subscribe) moves the connection on while
    // its session request waits unanswered on the first server: that ended the request there, the
    // SDK's own finding told as the server's refusal ("its word, unchecked").
    const answer = await ask(client, "still awake").catch((e: Error) => e);
    expect(answer instanceof Error ? answer.message : answer.choices[0]?.message.content).toBe(
      "Echo: still awake",
    );
  }, 60_000);

  it("with another server configured: models.list goes on there after the 15 s ack deadline", async () => {
    const { url } = await startServer();
    await relayProvider(url);
    const client = await relayClient([silent, url].join(","), { deadlines });
    const listed = await client.models.list();
    expect(listed.data.map((m) => m.id)).toEqual(["test-model"]);
  }, 60_000);

  it("with every server silent: the error names each", async () => {
    const { url: other, io: io2 } = await silentServer();
    const client = await relayClient([silent, other].join(","), { deadlines });
    const err = await ask(client).catch((e: unknown) => e);
    await io2.close();
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("TIMEOUT");
    expect((err as Error).message).toContain(`the signaling server at ${silent} did not answer`);
    expect((err as Error).message).toContain(`the signaling server at ${other} did not answer`);
  }, 60_000);
});
