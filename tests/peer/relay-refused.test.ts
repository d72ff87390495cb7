import { afterEach, describe, expect, it } from "vitest";
import { RelayRefusedError } from "../../peer/signaling-client";
import { flatPrice } from "../../protocol";
import { HttpEngine } from "../../provider/engines/http-engine";
import { embedVector, type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { startServer } from "../signaling/helpers";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * The signaling server refuses to carry the requester's frames of a relayed session (its relay
 * budget, RATE_LIMITED, for longer than the link waits for it to refill): the session ends, and
 * that is the server's doing. It read as an ordinary close ("channel closed"), so the provider
 * was excluded as if it had left: the request ended NO_MODEL ("no provider other than the
 * excluded ones"), or PROVIDER_LOST "the provider disconnected mid-answer", naming neither the
 * server nor its refusal. The refusal is now typed (RelayRefusedError): the provider is not
 * blamed, the request goes on on a fresh session, and what cannot go on says what happened.
 */
let backend: OpenAiBackend | undefined;

afterEach(async () => {
  stopAll();
  await backend?.close();
  backend = undefined;
  await closeMitmNetworks();
});

const RATE_LIMITED = {
  ok: false,
  error: { code: "RATE_LIMITED", message: "relay budget for this session exceeded; slow down" },
};

/**
 * The requester's frames after its first `n` on the first session it was granted (or on every
 * session, with `all`) are refused RATE_LIMITED and not carried.
 */
function refuseFrames(mitm: Mitm, n: number, all = false): void {
  let first: unknown;
  let seen = 0;
  mitm.use((m: MitmMessage) => {
    const sessionId = (m.args[0] as { sessionId?: unknown } | undefined)?.sessionId;
    if (matches(m, { event: "session:request", kind: "ack", direction: "to-party" }) && first === undefined)
      first = sessionId;
    if (!matches(m, { event: "session:frame", direction: "to-server", label: "requester" })) return undefined;
    if ((!all && sessionId !== first) || ++seen <= n) return undefined;
    m.ack?.(RATE_LIMITED);
    return null;
  });
}

const excluded = (mitm: Mitm) =>
  mitm.log
    .filter((m) => matches(m, { event: "session:request", direction: "to-server" }))
    .flatMap((m) => (m.args[0] as { exclude?: string[] }).exclude ?? []);

describe("a relay that will not carry the requester's frames", () => {
  for (const [stage, n] of [
    ["the base receipt", 2],
    ["the request", 3],
  ] as const) {
    it(`refused at ${stage}: the provider is not blamed, and answers on a fresh session`, async () => {
      const mitm = await mitmNetwork();
      const p = await relayProvider(labelled(mitm.url, "provider"));
      const c = await relayClient(labelled(mitm.url, "requester"));
      refuseFrames(mitm, n);
      const answer = await ask(c, "carried at last").catch((e: Error) => e);
      expect(
        answer instanceof Error
          ? `${(answer as { code?: string }).code}: ${answer.message}`
          : answer.choices[0]?.message.content,
      ).toBe("Echo: carried at last");
      expect(excluded(mitm)).toEqual([]);
      expect(p.events.filter((e) => e.type === "session-open").length).toBe(2);
    }, 60_000);
  }

  it("refused on every session from the request on: the error names the server and its refusal, the provider not blamed", async () => {
    const mitm = await mitmNetwork();
    await relayProvider(labelled(mitm.url, "provider"));
    const url = labelled(mitm.url, "requester");
    const c = await relayClient(url);
    refuseFrames(mitm, 3, true);
    const started = Date.now();
    const err = await ask(c, "never carried").catch((e: unknown) => e);
    // Refused on the first session (mid-answer: its request frame) and on one fresh session asked
    // again, the refusal is that server's failure, and the request ends (no other server to go on
    // at), as a request with another server configured moves on after the same two (below). It
    // was asked for three more sessions (41 s), then, the mid-answer refusal not counted, for two
    // (3 in all, 30 s). Two of the link's 10 s waits, and slack for a loaded machine: 25 s.
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(err).toBeInstanceOf(RelayRefusedError);
    expect((err as RelayRefusedError).servers).toEqual([url]);
    const requests = mitm.log.filter((m) => matches(m, { event: "session:request", direction: "to-server" }));
    expect(requests).toHaveLength(2);
    const message = (err as Error).message;
    expect(message).toBe(
      `the signaling server at ${url} did not carry a frame of the session (RATE_LIMITED) (on 2 sessions); the request ends`,
    );
    expect(message).toContain(`the signaling server at ${url}`);
    expect(message).toContain("RATE_LIMITED");
    // Its code, checked; never its own text, which a lying server writes as it likes.
    expect(message).not.toContain(RATE_LIMITED.error.message);
    expect(excluded(mitm)).toEqual([]);
  }, 90_000);

  it("refused on every session, with another server configured: the request goes on there and is answered", async () => {
    const mitm = await mitmNetwork();
    const onRefuser = await relayProvider(labelled(mitm.url, "provider"));
    const { url: up } = await startServer();
    const onUp = await relayProvider(up);
    const c = await relayClient([labelled(mitm.url, "requester"), up].join(","));
    refuseFrames(mitm, 0, true);
    const answer = await ask(c, "carried elsewhere");
    expect(answer.choices[0]?.message.content).toBe("Echo: carried elsewhere");
    expect(onUp.events.filter((e) => e.type === "request-done")).toHaveLength(1);
    expect(onRefuser.events.filter((e) => e.type === "request-done")).toHaveLength(0);
    expect(excluded(mitm)).toEqual([]);
  }, 90_000);

  it("refused on every session at every server configured: the request ends naming each server tried", async () => {
    const [one, two] = [await mitmNetwork(), await mitmNetwork()];
    await relayProvider(labelled(one.url, "provider"));
    await relayProvider(labelled(two.url, "provider"));
    const urls = [labelled(one.url, "requester"), labelled(two.url, "requester")];
    const c = await relayClient(urls.join(","));
    refuseFrames(one, 0, true);
    refuseFrames(two, 0, true);
    const err = await ask(c, "carried nowhere").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayRefusedError);
    expect((err as RelayRefusedError).servers).toEqual(urls);
    // It named only the last server (NO_ANSWER).
    expect((err as Error).message).toBe(
      `every signaling server asked refused to relay the request's sessions: ${urls.map((u) => `the signaling server at ${u} did not carry a frame of the session (RATE_LIMITED) (on 2 sessions)`).join("; ")}`,
    );
    for (const m of [one, two]) {
      expect(
        m.log.filter((x) => matches(x, { event: "session:request", direction: "to-server" })),
      ).toHaveLength(2);
      expect(excluded(m)).toEqual([]);
    }
  }, 120_000);

  it("refused on every session, the provider giving up on the handshake first: still two refusals, then the end names the server", async () => {
    const mitm = await mitmNetwork();
    // The provider waits 2 s for the requester's hello, which the server will not carry: it ends
    // each session before the link's 10 s patience runs out. That end read as the server's word
    // that the session ended, not as the refusal behind it, so the server was asked a third time.
    await relayProvider(labelled(mitm.url, "provider"), { deadlines: { handshaking: 2_000 } });
    const url = labelled(mitm.url, "requester");
    const c = await relayClient(url);
    refuseFrames(mitm, 0, true);
    const err = await ask(c, "never carried").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayRefusedError);
    expect((err as Error).message).toBe(
      `the signaling server at ${url} did not carry a frame of the session (RATE_LIMITED) (on 2 sessions); the request ends`,
    );
    expect(
      mitm.log.filter((m) => matches(m, { event: "session:request", direction: "to-server" })),
    ).toHaveLength(2);
    expect(excluded(mitm)).toEqual([]);
  }, 90_000);

  it("one server out (DIRECTORY_UNAVAILABLE), the next refusing every session: the end names both, and why", async () => {
    const [one, two] = [await mitmNetwork(), await mitmNetwork()];
    await relayProvider(labelled(one.url, "provider"));
    await relayProvider(labelled(two.url, "provider"));
    const urls = [labelled(one.url, "requester"), labelled(two.url, "requester")];
    const c = await relayClient(urls.join(","));
    one.use((m: MitmMessage) => {
      if (!matches(m, { event: "session:request", direction: "to-server", label: "requester" }))
        return undefined;
      m.ack?.({ ok: false, error: { code: "DIRECTORY_UNAVAILABLE", message: "Redis unreachable" } });
      return null;
    });
    refuseFrames(two, 0, true);
    const err = await ask(c, "carried nowhere").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayRefusedError);
    // It named only the server that refused to relay: the one out before it was left out.
    expect((err as RelayRefusedError).servers).toEqual(urls);
    expect((err as Error).message).toBe(
      `every signaling server asked failed the request: the signaling server at ${urls[0]} refused the request with DIRECTORY_UNAVAILABLE; the signaling server at ${urls[1]} did not carry a frame of the session (RATE_LIMITED) (on 2 sessions)`,
    );
    expect((err as Error).message).not.toContain("Redis unreachable");
  }, 90_000);

  it("a server that refused twice is not asked again after the request moved on and back", async () => {
    const [one, two] = [await mitmNetwork(), await mitmNetwork()];
    await relayProvider(labelled(one.url, "provider"));
    await relayProvider(labelled(two.url, "provider"));
    const urls = [labelled(one.url, "requester"), labelled(two.url, "requester")];
    const c = await relayClient(urls.join(","));
    // The first refuses every session; the second carries the first session up to the request
    // (which it refuses, mid-answer: the request fails over) and then refuses every session.
    refuseFrames(one, 0, true);
    refuseFrames(two, 3, true);
    const err = await ask(c, "carried nowhere").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayRefusedError);
    expect((err as RelayRefusedError).servers).toEqual(urls);
    const asked = (m: Mitm) =>
      m.log.filter((x) => matches(x, { event: "session:request", direction: "to-server" })).length;
    // The first was asked a third time (refused again, after the link's 10 s) once the second's
    // refusals moved the request back to it.
    expect([asked(one), asked(two)]).toEqual([2, 2]);
    expect((err as Error).message).toBe(
      `every signaling server asked refused to relay the request's sessions: ${urls.map((u) => `the signaling server at ${u} did not carry a frame of the session (RATE_LIMITED) (on 2 sessions)`).join("; ")}`,
    );
  }, 120_000);

  /**
   * Embeddings: a refusal ended the call as its provider's fault (excluded), so the only
   * provider was asked no more (NO_MODEL); and the request's refusals were not counted.
   */
  async function embedProvider(url: string) {
    backend = await startOpenAiBackend();
    const engine = new HttpEngine({ baseUrl: backend.url, backendModel: () => "backend-model" });
    await engine.load("embed-model");
    return relayProvider(url, {
      engine,
      models: [{ model: "embed-model", price: flatPrice(10n), features: ["embeddings"] }],
    });
  }
  const embed = (c: Awaited<ReturnType<typeof relayClient>>) =>
    c.embeddings.create({ model: "embed-model", input: "carried at last", encoding_format: "float" });

  it("embeddings refused at the request: the provider is not blamed, and answers on a fresh session", async () => {
    const mitm = await mitmNetwork();
    const p = await embedProvider(labelled(mitm.url, "provider"));
    const c = await relayClient(labelled(mitm.url, "requester"));
    refuseFrames(mitm, 3);
    const res = await embed(c).catch((e: Error) => e);
    expect(
      res instanceof Error ? `${(res as { code?: string }).code}: ${res.message}` : res.data[0]?.embedding,
    ).toEqual(Array.from(new Float32Array(embedVector("carried at last"))));
    expect(excluded(mitm)).toEqual([]);
    expect(p.events.filter((e) => e.type === "session-open").length).toBe(2);
  }, 60_000);

  it("embeddings refused on every session: two refusals end it naming the server, the provider not blamed", async () => {
    const mitm = await mitmNetwork();
    await embedProvider(labelled(mitm.url, "provider"));
    const url = labelled(mitm.url, "requester");
    const c = await relayClient(url);
    refuseFrames(mitm, 3, true);
    const err = await embed(c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayRefusedError);
    expect((err as RelayRefusedError).servers).toEqual([url]);
    expect(
      mitm.log.filter((m) => matches(m, { event: "session:request", direction: "to-server" })),
    ).toHaveLength(2);
    expect(excluded(mitm)).toEqual([]);
  }, 90_000);
});
