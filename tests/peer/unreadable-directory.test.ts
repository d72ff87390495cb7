import { afterEach, describe, expect, it } from "vitest";
import { SignalingError } from "../../peer/signaling-client";
import { flatPrice, generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server whose answer to `directory:subscribe` (what `models.list` and each request's
 * model lookup read) cannot be read: the server is broken or lies. Alone, models.list ends
 * SERVER_MALFORMED naming it; with another server configured it goes on there and lists what that
 * one serves, as a session request does (it ended SERVER_MALFORMED at the first server).
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

/** A server (its key held by the proxy) whose every directory answer has its providers count a string. */
async function brokenDirectory() {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(
    url,
    [
      rewrite({ event: "directory:subscribe", kind: "ack", direction: "to-party" }, ([a]) => {
        const ack = a as { directory?: object };
        return [{ ...ack, directory: { ...ack.directory, providers: "many" } }];
      }),
    ],
    { serverSecretKey },
  );
  mitms.push(mitm);
  await relayProvider(labelled(mitm.url, "provider"));
  return mitm;
}

describe("a directory answer that cannot be read", () => {
  it("one server: models.list ends SERVER_MALFORMED naming it", async () => {
    const broken = await brokenDirectory();
    const client = await relayClient(labelled(broken.url, "requester"));
    const err = await client.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignalingError);
    expect((err as SignalingError).code).toBe("SERVER_MALFORMED");
    expect((err as Error).message).toContain(broken.url);
  }, 30_000);

  it("with a second server configured: models.list goes on there", async () => {
    const broken = await brokenDirectory();
    const { url } = await startServer();
    await relayProvider(url, { models: [{ model: "other-model", price: flatPrice(10n) }] });
    const client = await relayClient([labelled(broken.url, "requester"), url].join(","));
    const listed = await client.models.list();
    expect(listed.data.map((m) => m.id)).toEqual(["other-model"]);
  }, 30_000);
});
