import { afterEach, describe, expect, it } from "vitest";
import { HandshakeFailedError, ProviderError, TamperedError } from "../../client/sdk/errors";
import { connect } from "../../client/sdk/silk-client";
import { SignalingClient, SignalingError } from "../../peer/signaling-client";
import { DecryptError, encodePublicKey, generateKeyPair, PeerRefusedFrameError } from "../../protocol";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { startServer } from "../signaling/helpers";
import { dropAfter, forgedIdentity, frames } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Mitm, type MitmMessage, matches, type Stage } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/** Issue 11: errors keep their meaning from where they happen to the application. */
const network = mitmNetwork;
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const requestsSent = (mitm: Mitm) =>
  mitm.log.filter((m) => m.event === "session:request" && m.kind === "event").map((m) => m.args[0]);

describe("typed errors end to end", () => {
  it("a value the session's schema refuses is refused by the SDK naming the field, before any pairing", async () => {
    const mitm = await network();
    await relayProvider(labelled(mitm.url, "provider"));
    const client = await relayClient(labelled(mitm.url, "requester"));
    const refused = await ask(client, "x", { seed: 2 ** 33 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ code: "INVALID_REQUEST", param: "seed" });
    expect(requestsSent(mitm)).toHaveLength(0);
    const answer = await ask(client, "still here");
    expect(answer.choices[0]?.message.content).toBe("Echo: still here");
    expect(requestsSent(mitm)).toHaveLength(1);
  }, 30_000);

  it("connect refuses options it cannot use at once, naming them, rather than a TypeError or a timeout later", async () => {
    const good = {
      signalingUrl: "http://127.0.0.1:9",
      sessionKey: generateKeyPair(),
      maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 5n },
      escrow: `0:${"11".repeat(32)}`,
    };
    const refused = (o: Record<string, unknown>) =>
      connect({ ...good, ...o } as never).catch((e: unknown) => e);
    const cases: [Record<string, unknown>, string][] = [
      [{ escrow: "my-escrow" }, "escrow"],
      [{ signalingUrl: "localhost:8787" }, "signalingUrl"],
      [{ sessionKey: undefined }, "sessionKey"],
      [{ maxPrice: { promptNanoPerToken: 5, completionNanoPerToken: 5n } }, "maxPrice.promptNanoPerToken"],
      [
        { maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: -1n } },
        "maxPrice.completionNanoPerToken",
      ],
      [{ keyEpoch: 1.5 }, "keyEpoch"],
    ];
    for (const [o, param] of cases)
      expect(await refused(o)).toMatchObject({ name: "InvalidRequestError", code: "INVALID_REQUEST", param });
  });

  it("a server that takes a request and never answers: TIMEOUT at the ack's deadline, naming the server", async () => {
    const mitm = await network([
      dropAfter(0, { event: "directory:subscribe", kind: "ack", direction: "to-party" }),
    ]);
    const signaling = await SignalingClient.connect(mitm.url, { ackTimeoutMs: 500 });
    try {
      const refused = await signaling.directory().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SignalingError);
      expect(refused).toMatchObject({ code: "TIMEOUT" });
      expect((refused as Error).message).toContain(mitm.url);
      expect((refused as Error).message).toContain("directory:subscribe");
    } finally {
      signaling.close();
    }
  });

  it("a server gone for good: a request ends UNREACHABLE at its deadline, naming the server", async () => {
    const { server, url } = await startServer();
    const signaling = await SignalingClient.connect(url, { ackTimeoutMs: 500 });
    try {
      await server.close();
      const refused = await signaling.directory().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SignalingError);
      expect(refused).toMatchObject({ code: "UNREACHABLE" });
      expect((refused as Error).message).toContain(url);
    } finally {
      signaling.close();
    }
  });

  it("with signaling gone, a new question ends UNREACHABLE at the grant's deadline, not a server TIMEOUT", async () => {
    const { server, url } = await startServer();
    await relayProvider(labelled(url, "provider"));
    const client = await relayClient(labelled(url, "requester"), {
      deadlines: { requested: 800 },
    });
    expect((await ask(client, "before")).choices[0]?.message.content).toBe("Echo: before");
    await server.close();
    const refused = await ask(client, "after").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ code: "UNREACHABLE" });
    expect((refused as Error).message).toContain("cannot be reached");
  }, 30_000);

  it("a forged identity key in the grant, with a quote the server signed with that key: a HandshakeFailedError at once, not a retry loop", async () => {
    // The quote checks out (the server holds the forged key), so only the handshake, which the
    // real provider answers with its own key, catches the lie.
    const forgedPair = generateKeyPair();
    const forged = encodePublicKey(forgedPair.publicKey);
    const mitm = await network([forgedIdentity(forgedPair)]);
    const { events } = await relayProvider(labelled(mitm.url, "provider"));
    const client = await relayClient(labelled(mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    expect((err as HandshakeFailedError).code).toBe("IDENTITY_MISMATCH");
    expect((err as HandshakeFailedError).provider).toBe(forged);
    expect(requestsSent(mitm)).toHaveLength(1);
    await expect.poll(() => events.some((e) => e.type === "session-failed"), { timeout: 15_000 }).toBe(true);
  }, 30_000);

  it("a frame altered mid-answer is a TamperedError; no provider is blamed, the engine is freed", async () => {
    let n = 0;
    const flip: Stage = (m) => {
      if (!matches(m, frames("requester"))) return undefined;
      if (++n !== 4) return undefined; // REPLY, account, first tokens, then this one
      const body = m.args[0] as { frame: Uint8Array };
      const frame = Uint8Array.from(body.frame);
      frame[frame.length - 1]! ^= 1;
      return { ...m, args: [{ ...body, frame }] };
    };
    const mitm = await network([flip]);
    const engine = new ScriptedEngine({
      tokenDelayMs: 30,
      reply: () => "one two three four five six seven eight",
    });
    const { events } = await relayProvider(labelled(mitm.url, "provider"), { engine });
    const client = await relayClient(labelled(mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TamperedError);
    expect((err as TamperedError).cause).toBeInstanceOf(DecryptError);
    expect((err as TamperedError).partial).toBe("one ");
    expect(requestsSent(mitm)).toHaveLength(1);
    await expect.poll(() => events.some((e) => e.type === "session-closed"), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => engine.activeGenerations, { timeout: 10_000 }).toBe(0);
    expect(engine.generatedTokens).toBeLessThan(8);
  }, 30_000);

  /** Delivers the `nth` frame on its way to the provider twice: a replay the requester cannot see. */
  const replayToProvider = (nth: number): Stage => {
    let n = 0;
    return (m: MitmMessage) => (matches(m, frames("provider")) && ++n === nth ? [m, m] : undefined);
  };

  it("a frame replayed on its way to the provider is a TamperedError at the requester, not a provider lost and blamed", async () => {
    const mitm = await network([replayToProvider(4)]); // HELLO, AUTH, base receipt, then the request
    const engine = new ScriptedEngine({ tokenDelayMs: 30, reply: () => "one two three four five six" });
    await relayProvider(labelled(mitm.url, "provider"), { engine });
    const client = await relayClient(labelled(mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TamperedError);
    expect((err as TamperedError).cause).toBeInstanceOf(PeerRefusedFrameError);
    // Not failed over (which would exclude the provider and find nobody else): one request only.
    expect(requestsSent(mitm)).toHaveLength(1);
    await expect.poll(() => engine.activeGenerations, { timeout: 10_000 }).toBe(0);
    // The provider was not blamed: the next question is answered by it.
    expect((await ask(client, "again")).choices[0]?.message.content).toBe("one two three four five six");
  }, 30_000);

  it("a base receipt replayed on its way to the provider fails the opening as tampering, blaming nobody", async () => {
    const mitm = await network([replayToProvider(3)]);
    await relayProvider(labelled(mitm.url, "provider"));
    const client = await relayClient(labelled(mitm.url, "requester"));
    const err = await ask(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeFailedError);
    expect(err).toMatchObject({ code: "REPLAY" });
    expect(requestsSent(mitm)).toHaveLength(1);
  }, 30_000);
});
