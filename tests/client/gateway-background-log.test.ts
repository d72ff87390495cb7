import { afterEach, expect, it } from "vitest";
import { connectGateway } from "../../client/gateway/gateway-client";
import { parseGatewayOptions } from "../../client/gateway/options";
import { generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, matches, startMitm } from "../support/mitm-signaling";
import { ESCROW, labelled, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A gateway's operator reads its log: a failure no request awaits (here the directory
 * re-subscription after a reconnect, answered unreadably by the signaling server) is written
 * there, naming the server, where before the SDK told nobody the gateway had not asked to hear.
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

it("the gateway's log names a signaling server whose answer to a background call cannot be read", async () => {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(url, [], { serverSecretKey });
  mitms.push(mitm);
  await relayProvider(labelled(mitm.url, "provider"));
  const warned: { fields: Record<string, unknown>; message: string }[] = [];
  const config = parseGatewayOptions(
    [
      "--escrow",
      ESCROW,
      "--max-price",
      "100",
      "--signaling",
      labelled(mitm.url, "gateway"),
      "--trust-server",
    ],
    {},
  );
  const { client } = await connectGateway(config, generateKeyPair(), {
    forceRelay: true,
    log: { warn: (fields, message) => warned.push({ fields, message }) },
  });
  try {
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["test-model"]);
    mitm.use((m) =>
      matches(m, { event: "directory:subscribe", kind: "ack", direction: "to-party", label: "gateway" })
        ? { ...m, args: [{ ok: true, directory: { v: 1, providers: "many" } }] }
        : undefined,
    );
    mitm.parties.find((p) => p.label === "gateway" && !p.killed)?.kill();
    await expect.poll(() => warned.length, { timeout: 15_000 }).toBeGreaterThan(0);
    const [{ fields, message }] = warned as [(typeof warned)[number]];
    expect(message).toMatch(/signaling server/);
    expect(fields).toMatchObject({ err: { name: "SignalingError", code: "SERVER_MALFORMED" } });
    expect(JSON.stringify(fields)).toContain(mitm.url);
    expect(JSON.stringify(fields)).toContain("directory:subscribe");
  } finally {
    client.close();
  }
}, 40_000);
