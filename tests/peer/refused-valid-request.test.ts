import { afterEach, describe, expect, it } from "vitest";
import type { Gateway } from "../../client/gateway/gateway-server";
import { generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { chatViaGateway } from "../support/gateway-chat";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { labelled, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server refusing a session request as the request's own fault (MALFORMED,
 * UNKNOWN_FIELD, OVERSIZE) though the SDK checked it against the same schema before sending (whose
 * bounds keep it far under the server's size limit): the server is broken or lies. Through the gateway that is a 502 naming the server (it was a 400 "your request
 * is wrong", naming none), and with another server configured the request is answered there.
 * An honest refusal (NO_MODEL) keeps its meaning.
 */
const mitms: Mitm[] = [];
const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

/** A server behind a man in the middle holding its key, answering every grant with `code`. */
async function blamingServer(code: string) {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(
    url,
    [
      rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) =>
        (a as { ok?: boolean }).ok
          ? [{ ok: false, error: { code, message: "session:request: invalid at model: string expected" } }]
          : [a],
      ),
    ],
    { serverSecretKey },
  );
  mitms.push(mitm);
  const provider = await relayProvider(labelled(mitm.url, "provider"));
  return { mitm, provider };
}

describe("a server refusing a well-formed session request as malformed", () => {
  it.each(["MALFORMED", "UNKNOWN_FIELD", "OVERSIZE"])(
    "%s, one server: a 502 SERVER_MALFORMED naming the server, not a 400",
    async (code) => {
      const lying = await blamingServer(code);
      const { status, body } = await chatViaGateway(labelled(lying.mitm.url, "requester"), gateways);
      expect(status).toBe(502);
      expect(body.error?.code).toBe("server_malformed");
      expect(body.error?.message).toContain(lying.mitm.url);
      expect(body.error?.message).toContain(code);
    },
    30_000,
  );

  it("with a second server configured, the same request is answered there", async () => {
    const lying = await blamingServer("MALFORMED");
    const { url } = await startServer();
    const honest = await relayProvider(url);
    const { status, body } = await chatViaGateway(
      [labelled(lying.mitm.url, "requester"), url].join(","),
      gateways,
    );
    expect(status).toBe(200);
    expect(body.choices?.[0]?.message.content).toBe("Echo: hello");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(lying.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 30_000);

  it("an honest refusal keeps its meaning: a model nobody serves is a 404 model_not_found", async () => {
    const lying = await blamingServer("MALFORMED");
    const { status, body } = await chatViaGateway(
      labelled(lying.mitm.url, "requester"),
      gateways,
      "no-such-model",
    );
    expect(status).toBe(404);
    expect(body.error?.code).toBe("model_not_found");
  }, 30_000);
});
