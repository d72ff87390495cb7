import { afterAll, afterEach, describe, expect, it } from "vitest";
import { SignalingError } from "../../peer/signaling-client";
import { generateKeyPair, PROTOCOL_VERSION } from "../../protocol";
import type { RuntimeEvent } from "../../provider/runtime";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, matches, startMitm } from "../support/mitm-signaling";
import { labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";
import { VERSION_REFUSAL, versionSkewedServer } from "../support/version-skewed-server";

/**
 * What the signaling client does by itself, which no caller awaits (subscribing to the directory
 * again after a reconnect, registering again, heartbeats), and a provider's own registration: a
 * failure of any of them is a typed error naming the server, where the user or the operator
 * sees it (`onSignalingError`, the provider runtime's `signaling-error` event, the rejection of
 * its start). They were dropped silently, or ended as a bare VERSION naming no server.
 */
const skewed = await versionSkewedServer();

const mitms: Mitm[] = [];
afterEach(async () => {
  stopAll();
  for (const m of mitms.splice(0)) await m.close();
  await cleanup();
});
afterAll(async () => {
  await skewed.io.close();
});

async function proxied(): Promise<Mitm> {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(url, [], { serverSecretKey });
  mitms.push(mitm);
  return mitm;
}

/** From now on (until the returned call), the server's answer to `event` (to `label`) becomes `answer`. */
function answerWith(mitm: Mitm, label: string, event: string, answer: unknown): () => void {
  return mitm.use((m) =>
    matches(m, { event, kind: "ack", direction: "to-party", label }) ? { ...m, args: [answer] } : undefined,
  );
}

/** The provider runtime's first `signaling-error` event, SERVER_MALFORMED: its message. */
async function firstSignalingError(events: RuntimeEvent[]): Promise<string> {
  const errors = () => events.filter((e) => e.type === "signaling-error");
  await expect.poll(() => errors().length, { timeout: 15_000 }).toBeGreaterThan(0);
  const [e] = errors();
  expect(e).toMatchObject({ code: "SERVER_MALFORMED" });
  return (e as { message: string }).message;
}

describe("failures of the signaling client's own calls, named", () => {
  it("a re-subscription to the directory after a reconnect, answered unreadably: onSignalingError names the server", async () => {
    const mitm = await proxied();
    await relayProvider(labelled(mitm.url, "provider"));
    const told: unknown[] = [];
    const client = await relayClient(labelled(mitm.url, "requester"), {
      onSignalingError: (e) => told.push(e),
    });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["test-model"]);

    answerWith(mitm, "requester", "directory:subscribe", {
      ok: true,
      directory: { v: 1, providers: "many" },
    });
    mitm.parties.find((p) => p.label === "requester" && !p.killed)?.kill();
    await expect.poll(() => told.length, { timeout: 15_000 }).toBeGreaterThan(0);
    const err = told[0] as SignalingError;
    expect(err).toBeInstanceOf(SignalingError);
    expect(err.code).toBe("SERVER_MALFORMED");
    expect(err.message).toContain(mitm.url);
    expect(err.message).toContain("directory:subscribe");
  }, 30_000);

  it("a re-subscription answered well after one that failed: onSignalingRecovered is told once, not at every good one", async () => {
    const mitm = await proxied();
    await relayProvider(labelled(mitm.url, "provider"));
    const told: string[] = [];
    const client = await relayClient(labelled(mitm.url, "requester"), {
      onSignalingError: (e) => told.push(e.code),
      onSignalingRecovered: () => told.push("recovered"),
    });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["test-model"]);
    const requester = () => mitm.parties.find((p) => p.label === "requester" && !p.killed);
    // A good re-subscription with nothing failed before is no recovery.
    requester()?.kill();
    await expect.poll(() => requester() !== undefined, { timeout: 15_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(told).toEqual([]);

    const stop = answerWith(mitm, "requester", "directory:subscribe", {
      ok: true,
      directory: { v: 1, providers: "many" },
    });
    requester()?.kill();
    await expect.poll(() => told, { timeout: 15_000 }).toEqual(["SERVER_MALFORMED"]);
    stop();
    requester()?.kill();
    await expect.poll(() => told, { timeout: 15_000 }).toEqual(["SERVER_MALFORMED", "recovered"]);
    requester()?.kill();
    await expect.poll(() => requester() !== undefined, { timeout: 15_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(told).toEqual(["SERVER_MALFORMED", "recovered"]);
  }, 60_000);

  it("a provider registering with a server of another protocol version: SERVER_MALFORMED naming it and the version", async () => {
    const err = await relayProvider(skewed.url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignalingError);
    expect((err as SignalingError).code).toBe("SERVER_MALFORMED");
    expect((err as Error).message).toContain(skewed.url);
    expect((err as Error).message).toContain("VERSION");
    expect((err as Error).message).toContain(`protocol version ${PROTOCOL_VERSION}`);
  }, 30_000);

  it("a provider registering again after a reconnect, refused VERSION: a signaling-error event naming the server", async () => {
    const mitm = await proxied();
    const p = await relayProvider(labelled(mitm.url, "provider"));
    answerWith(mitm, "provider", "provider:register", VERSION_REFUSAL);
    mitm.parties.find((x) => x.label === "provider" && !x.killed)?.kill();
    const message = await firstSignalingError(p.events);
    expect(message).toContain(mitm.url);
    expect(message).toContain("provider:register");
    expect(message).toContain("VERSION");
  }, 30_000);

  it("a provider's heartbeat refused VERSION: a signaling-error event naming the server", async () => {
    const mitm = await proxied();
    const p = await relayProvider(labelled(mitm.url, "provider"));
    answerWith(mitm, "provider", "provider:heartbeat", VERSION_REFUSAL);
    p.runtime.signaling.reportLoad();
    const message = await firstSignalingError(p.events);
    expect(message).toContain(mitm.url);
    expect(message).toContain("provider:heartbeat");
  }, 30_000);

  it("a provider's heartbeat refused SHUTTING_DOWN: not an error to tell (the node is leaving), the provider registers again", async () => {
    // The presence's refusals went to onError past its QUIET filter: a signaling-error event
    // SHUTTING_DOWN, and the provider stayed on the leaving node.
    const mitm = await proxied();
    const p = await relayProvider(labelled(mitm.url, "provider"));
    let refused = 0;
    mitm.use((m) =>
      matches(m, { event: "provider:heartbeat", kind: "ack", direction: "to-party" }) && refused++ === 0
        ? {
            ...m,
            args: [{ ok: false, error: { code: "SHUTTING_DOWN", message: "server is shutting down" } }],
          }
        : undefined,
    );
    const registrations = () =>
      mitm.log.filter((m) => matches(m, { event: "provider:register", direction: "to-server" })).length;
    expect(registrations()).toBe(1);
    p.runtime.signaling.reportLoad();
    await expect.poll(registrations, { timeout: 15_000 }).toBeGreaterThan(1);
    expect(refused).toBeGreaterThan(0);
    expect(p.events.filter((e) => e.type === "signaling-error")).toEqual([]);
  }, 30_000);
});
