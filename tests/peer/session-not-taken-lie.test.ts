import { afterEach, describe, expect, it } from "vitest";
import { toHttpError } from "../../client/gateway/http-errors";
import { NoProviderError } from "../../client/sdk/errors";
import { flatPrice } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { startServer } from "../signaling/helpers";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches, type Stage } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A lying signaling server's `session:ended` `no-provider` (nobody took the session, after its own
 * failover): its `error` is the server's word, which nothing checks, as a refused request's is.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const LIE = "your request is malformed: top up at https://evil.example/pay";

/** Right behind each grant, in the same read: the session ended, nobody took it, for `code`. */
function notTaken(code: string): Stage {
  return (m: MitmMessage) => {
    if (!matches(m, { event: "session:request", kind: "ack", direction: "to-party" })) return undefined;
    const sessionId = (m.args[0] as { sessionId?: unknown })?.sessionId;
    if (typeof sessionId !== "string") return undefined;
    const end: MitmMessage = {
      party: m.party,
      direction: "to-party",
      kind: "event",
      event: "session:ended",
      args: [{ v: 1, sessionId, reason: "no-provider", error: { code, message: LIE } }],
    };
    return [m, end];
  };
}

async function network(code: string): Promise<Mitm> {
  const mitm = await mitmNetwork([notTaken(code)]);
  await relayProvider(labelled(mitm.url, "p1"), {
    engine: new ScriptedEngine({ models: ["test-model"], reply: () => "hi" }),
    models: [{ model: "test-model", price: flatPrice(10n) }],
  });
  return mitm;
}

async function failure(mitm: Mitm): Promise<NoProviderError> {
  const c = await relayClient(labelled(mitm.url, "requester"));
  const err = await ask(c).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NoProviderError);
  return err as NoProviderError;
}

describe("a lying server's word that nobody took the session", () => {
  it("blaming the request (MALFORMED) of a request this SDK checked: SERVER_MALFORMED naming the server, never the request's code", async () => {
    // It reached the caller as MALFORMED with the server's text as the SDK's own (the gateway's
    // 400 "your request is wrong"), naming no server.
    const mitm = await network("MALFORMED");
    const err = await failure(mitm);
    expect(err.code).toBe("SERVER_MALFORMED");
    expect(err.message).toContain(mitm.url);
  }, 30_000);
  it("any other code (ALL_BUSY): its code kept, its text quoted as the server's unchecked word, naming the server", async () => {
    // Its text reached the caller as the SDK's own message, naming no server.
    const mitm = await network("ALL_BUSY");
    const err = await failure(mitm);
    expect(err.code).toBe("ALL_BUSY");
    expect(err.message).toContain(`the signaling server at ${mitm.url}`);
    expect(err.message).toContain("its word, unchecked");
    expectGatewaySaysOwnWords(err, labelled(mitm.url, "requester"), "ALL_BUSY");
  }, 30_000);

  it.each(["DIRECTORY_UNAVAILABLE", "SHUTTING_DOWN"])(
    "an outage (%s) with a second server configured: the request goes on there and is answered, as the same refusal of the request does",
    async (code) => {
      // It ended the request with that code, the second server never asked.
      const mitm = await network(code);
      const { url } = await startServer();
      const honest = await relayProvider(url, {
        engine: new ScriptedEngine({ models: ["test-model"], reply: () => "from the second server" }),
      });
      const c = await relayClient([labelled(mitm.url, "requester"), url].join(","));
      const answer = await ask(c);
      expect(answer.choices[0]?.message.content).toBe("from the second server");
      expect(honest.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    },
    60_000,
  );
  it("an outage with only that server: its code kept, its text quoted as the server's word", async () => {
    const mitm = await network("DIRECTORY_UNAVAILABLE");
    const err = await failure(mitm);
    expect(err.code).toBe("DIRECTORY_UNAVAILABLE");
    expect(err.message).toContain(`the signaling server at ${mitm.url}`);
    expect(err.message).toContain("its word, unchecked");
    expectGatewaySaysOwnWords(err, labelled(mitm.url, "requester"), "DIRECTORY_UNAVAILABLE");
  }, 30_000);
});

/**
 * The gateway's body for such an error: its `message` Silk's own sentence (which server, which
 * code), never the server's text, which is kept apart with the whole account in `silk_detail`, as
 * model_not_found keeps it. The lie was the gateway's message, quoted but whole.
 */
function expectGatewaySaysOwnWords(err: NoProviderError, server: string, code: string): void {
  const body = toHttpError(err).body().error;
  expect(body.message).toBe(`the signaling server at ${server} refused the request with ${code}`);
  expect(body.silk_detail).toBe(err.message);
  expect(body.silk_detail).toContain(LIE);
}
