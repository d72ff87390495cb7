import { afterEach, describe, expect, it } from "vitest";
import { NoProviderError } from "../../client/sdk/errors";
import { cleanup, startServer } from "../signaling/helpers";
import { rewrite } from "../support/mitm-behaviours";
import { type Mitm, startMitm } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A signaling server caught lying (its grant is not the provider's signed quote: QUOTE_FORGED)
 * would lie again. An app that configured more than one server has the SDK leave it for the next
 * at once and ask there, within the same request; with one server only, the request ends
 * QUOTE_FORGED naming it, and the app decides. Real servers, one behind a man in the middle that
 * strips the quote from every grant.
 */
const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});

/** A server whose grants carry no signed quote, with one provider on it. */
async function lyingServer() {
  const { url } = await startServer();
  const mitm = await startMitm(url, [
    rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([a]) => {
      const grant = a as { ok?: boolean; provider?: Record<string, unknown> };
      if (!grant.ok || !grant.provider) return [a];
      const { quote: _stripped, ...provider } = grant.provider;
      return [{ ...grant, provider }];
    }),
  ]);
  mitms.push(mitm);
  const provider = await relayProvider(labelled(mitm.url, "provider"));
  return { mitm, provider };
}

describe("after a forged grant", () => {
  it("with a second server configured, the same request is answered there", async () => {
    const liar = await lyingServer();
    const { url } = await startServer();
    const honest = await relayProvider(url);
    const client = await relayClient([labelled(liar.mitm.url, "requester"), url].join(","));
    const answer = await ask(client, "anyone honest");
    expect(answer.choices[0]?.message.content).toBe("Echo: anyone honest");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(liar.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
    // The liar heard one request, and the client stays with the honest server.
    const asked = liar.mitm.log.filter((m) => m.event === "session:request" && m.kind === "event");
    expect(asked).toHaveLength(1);
    expect((await ask(client, "again")).choices[0]?.message.content).toBe("Echo: again");
    expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 30_000);

  it("with one server only, QUOTE_FORGED naming it, the provider not blamed", async () => {
    const liar = await lyingServer();
    const client = await relayClient(labelled(liar.mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProviderError);
    expect((err as NoProviderError).code).toBe("QUOTE_FORGED");
    expect((err as Error).message).toContain(liar.mitm.url);
    expect(liar.provider.events.filter((e) => e.type === "session-open")).toEqual([]);
  }, 30_000);
});
