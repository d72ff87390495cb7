import { afterEach, describe, expect, it } from "vitest";
import {
  ask,
  askGateway,
  directory,
  expectWholeAnswer,
  FaultyNetwork,
  inFlight,
  placesInUse,
  until,
} from "./faulty-network";
import { type NodeProcess, startNode } from "./node-process";
import { freePort } from "./redis-server";

/**
 * The signaling process killed (-9) and started again on the same port, with two providers, a
 * requester on a direct channel, one on the relay and the gateway connected, and an answer in
 * flight on each channel. Nobody is restarted by hand: everyone finds the server again.
 */
let net: FaultyNetwork;
let node: NodeProcess | undefined;

afterEach(async () => {
  net?.close();
  await node?.kill();
});

const IN_FLIGHT_DEADLINE_MS = 60_000;

async function outage(port: number, ms: number): Promise<number> {
  await node?.kill();
  await new Promise((r) => setTimeout(r, ms));
  node = await startNode({ PORT: String(port) });
  return Date.now();
}

async function network() {
  const port = await freePort();
  node = await startNode({ PORT: String(port) });
  const url = node.url;
  net = new FaultyNetwork();
  const clients = await net.populate({ providers: [url, url], requesters: url, gateway: url });
  return { port, url, ...clients };
}

/** When every provider is listed again (polled from the moment the server is back). */
function listedAgain(url: string): Promise<number> {
  return until(async () => (await directory(url)).providers === 2, "providers listed", 30_000);
}

/** After recovery: everyone listed within 5 s, new requests answered, no place left busy, nothing paid twice. */
async function expectRecovered(
  n: Awaited<ReturnType<typeof network>>,
  upAt: number,
  listed: Promise<number>,
) {
  expect((await listed) - upAt).toBeLessThanOrEqual(5_000);
  expect(await ask(n.direct)).toBe("Echo: ping");
  expect(await ask(n.relayed)).toBe("Echo: ping");
  expect(await askGateway(n.gateway)).toEqual({ status: 200, text: "Echo: ping" });
  // Idle sessions close after 300 ms; then every place is free, on the server and at the providers.
  await until(async () => placesInUse(await directory(n.url)) === 0, "every place free", 10_000);
  await until(async () => net.providers.every((p) => p.slots.load === 0), "providers idle", 10_000);
  await net.expectPaidOnce();
}

describe("signaling killed and restarted", () => {
  it("after 0.5 s, 3 s and 30 s: everyone is back, answers in flight end whole or typed", async () => {
    const n = await network();
    for (const ms of [500, 3_000, 30_000]) {
      const onDirect = inFlight(n.direct, IN_FLIGHT_DEADLINE_MS);
      const onRelay = inFlight(n.relayed, IN_FLIGHT_DEADLINE_MS);
      const onGateway = inFlight(n.gateway, IN_FLIGHT_DEADLINE_MS);
      await Promise.all([onDirect.started, onRelay.started, onGateway.started]);
      const upAt = await outage(n.port, ms);
      const listed = listedAgain(n.url);
      const [direct, relayed, gateway] = await Promise.all([onDirect.done, onRelay.done, onGateway.done]);
      // A direct channel needs no server: those answers (the SDK's, the gateway's) finish untouched.
      expect(direct).toMatchObject({ ok: true, failovers: 0 });
      expect(gateway).toMatchObject({ ok: true });
      expectWholeAnswer(direct);
      expectWholeAnswer(relayed);
      expectWholeAnswer(gateway);
      await expectRecovered(n, upAt, listed);
    }
  }, 300_000);
});
