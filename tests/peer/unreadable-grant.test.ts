import { afterEach, describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { NoProviderError } from "../../client/sdk/errors";
import { generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server whose answer to a session request cannot be read (a grant off its schema, an
 * ack that is no object): the server is broken or lies. The request ends SERVER_MALFORMED naming
 * the server (502 at the gateway: it used to be MALFORMED, the gateway's 400 "your request is
 * wrong", not naming the server), and with another server configured it is answered there.
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

const UNREADABLE: [string, (grant: unknown) => unknown][] = [
  ["a grant whose session id is a number", (g) => ({ ...(g as object), sessionId: 42 })],
  [
    "a grant whose provider key is not hex",
    (g) => {
      const grant = g as { provider: object };
      return { ...grant, provider: { ...grant.provider, identityKey: "zz" } };
    },
  ],
  ["an ack that is a string", () => "granted"],
];

/** A server (its own key held by the proxy) whose every grant `change` makes unreadable, with a provider. */
async function brokenServer(change: (grant: unknown) => unknown) {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(
    url,
    [rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([g]) => [change(g)])],
    { serverSecretKey },
  );
  mitms.push(mitm);
  const provider = await relayProvider(labelled(mitm.url, "provider"));
  return { mitm, provider };
}

describe("a grant that cannot be read", () => {
  it.each(UNREADABLE)(
    "%s, one server: SERVER_MALFORMED naming it, 502 at the gateway",
    async (_what, change) => {
      const broken = await brokenServer(change);
      const client = await relayClient(labelled(broken.mitm.url, "requester"));
      const err = await ask(client).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NoProviderError);
      expect((err as NoProviderError).code).toBe("SERVER_MALFORMED");
      expect((err as Error).message).toContain(broken.mitm.url);
      expect(toHttpError(err).status).toBe(502);
      expect(broken.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
    },
    30_000,
  );

  it("with a second server configured, the same request is answered there", async () => {
    const broken = await brokenServer(UNREADABLE[0]![1]);
    const { url } = await startServer();
    const honest = await relayProvider(url);
    const client = await relayClient([labelled(broken.mitm.url, "requester"), url].join(","));
    const answer = await ask(client, "anyone readable");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone readable");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 30_000);
});
