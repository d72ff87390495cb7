import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Gateway } from "../../client/gateway/gateway-server";
import { PROTOCOL_VERSION } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { chatViaGateway } from "../support/gateway-chat";
import { relayClient, relayProvider, stopAll } from "../support/silk-parties";
import { versionSkewedServer } from "../support/version-skewed-server";

/**
 * A signaling server speaking another protocol version: a real socket.io server on loopback that
 * refuses every event with `VERSION`, as a node of version 2 refuses our version-1 payloads. That
 * is not the request's fault (the SDK sent it in its own version): through the gateway it is a 502
 * naming the server and the version sent (it was a 400 blaming the request, naming no server), and
 * with another server configured the request (and models.list) is answered there.
 */
const { url: skewed, io } = await versionSkewedServer();

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
  stopAll();
  await cleanup();
});
afterAll(async () => {
  await io.close();
});

describe("a signaling server speaking another protocol version", () => {
  it("alone: a 502 naming the server and the version sent, not a 400 blaming the request", async () => {
    const { status, body } = await chatViaGateway(skewed, gateways);
    expect(status).toBe(502);
    expect(body.error?.code).toBe("server_malformed");
    expect(body.error?.message).toContain(skewed);
    expect(body.error?.message).toContain("VERSION");
    expect(body.error?.message).toContain(`protocol version ${PROTOCOL_VERSION}`);
    expect(body.error?.message).toContain("this node speaks 2");
  }, 60_000);

  it("with another server configured: the request is answered there", async () => {
    const { url } = await startServer();
    const honest = await relayProvider(url);
    const { status, body } = await chatViaGateway([skewed, url].join(","), gateways);
    expect(status).toBe(200);
    expect(body.choices?.[0]?.message.content).toBe("Echo: hello");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 60_000);

  it("with another server configured: models.list goes on there", async () => {
    const { url } = await startServer();
    await relayProvider(url);
    const client = await relayClient([skewed, url].join(","));
    const listed = await client.models.list();
    expect(listed.data.map((m) => m.id)).toEqual(["test-model"]);
  }, 60_000);
});
