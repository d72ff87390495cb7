import wrtc from "@roamhq/wrtc";
import { afterEach, describe, expect, it } from "vitest";
import { startServer } from "../signaling/helpers";
import { dropAfter } from "../support/mitm-behaviours";
import { closeMitmNetworks, mitmNetwork } from "../support/mitm-network";
import { type Match, type Mitm, matches, type Stage } from "../support/mitm-signaling";
import { ask, labelled, relayClient, relayProvider, stopAll } from "../support/silk-parties";

/**
 * A request waiting on a signaling connection that moves to another server must be asked again on
 * the new one, not left behind. Two requests at once on one SDK client: models.list finds the first
 * server silent about the directory and, at its 15 s ack deadline, moves the connection to the
 * second, while a chat request's hello (the first exchange on a connection, before its session
 * request) is held on the first. And one request alone, whose server's connection drops during its
 * hello. The session request used to be sent on the old, closed socket, where socket.io buffered it
 * until the whole deadline ran out: TIMEOUT, blaming the new server, which never heard it (then,
 * the request moved back to the first server). Real servers on loopback, real WebRTC.
 */
afterEach(async () => {
  stopAll();
  await closeMitmNetworks();
});

const direct = { forceRelay: false, wrtc };

/** Holds every message `match` selects for good (the connection stays up); `seen` once one came. */
function holdAll(match: Match): Stage & { seen: Promise<void> } {
  let saw: () => void = () => undefined;
  const seen = new Promise<void>((r) => {
    saw = r;
  });
  const stage: Stage = (m) => {
    if (!matches(m, match)) return undefined;
    saw();
    return null;
  };
  return Object.assign(stage, { seen });
}

const drops = (event: string) => dropAfter(0, { event, direction: "to-server" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The answer's text, or the error that came instead (its code and message, to show in a failure). */
function said(answer: unknown): string | undefined {
  if (answer instanceof Error) return `${(answer as { code?: string }).code}: ${answer.message}`;
  return (answer as Awaited<ReturnType<typeof ask>>).choices[0]?.message.content ?? undefined;
}
const requestsTo = (mitm: Mitm) =>
  mitm.log.filter((m) => m.event === "session:request" && m.kind === "event" && m.direction === "to-server");

describe("a request waiting for its grant while the connection moves", () => {
  it("moved by another request (models.list): asked again on the new connection and answered", async () => {
    const held = holdAll({ event: "server:hello", direction: "to-server" });
    const first = await mitmNetwork([drops("directory:subscribe"), held]);
    const { url: second } = await startServer();
    const answering = await relayProvider(second, direct);
    const client = await relayClient([labelled(first.url, "requester"), second].join(","), {
      ...direct,
      deadlines: { requested: 40_000 },
    });
    const listed = client.models.list();
    // The chat comes 12.5 s into the directory's 15 s ack deadline: its hello (5 s at most) is
    // still held when that deadline moves the connection to the second server.
    await sleep(12_500);
    const asked = ask(client, "still there?").catch((e: unknown) => e);
    await held.seen;
    expect((await listed).data.map((m) => m.id)).toEqual(["test-model"]);
    expect(said(await asked)).toBe("Echo: still there?");
    expect(answering.events.filter((e) => e.type === "session-open")).toHaveLength(1);
  }, 90_000);

  it("moved by an outage of its server: asked again on the next one and answered", async () => {
    const held = holdAll({ event: "server:hello", direction: "to-server" });
    const first = await mitmNetwork([held]);
    const { url: second } = await startServer();
    const answering = await relayProvider(second, direct);
    const client = await relayClient([labelled(first.url, "requester"), second].join(","), direct);
    const asked = ask(client, "after the outage").catch((e: unknown) => e);
    await held.seen;
    // The first server's connection drops while the request's hello waits there.
    for (const p of first.parties) p.kill();
    expect(said(await asked)).toBe("Echo: after the outage");
    expect(answering.events.filter((e) => e.type === "session-open")).toHaveLength(1);
    expect(requestsTo(first)).toEqual([]);
  }, 90_000);
});
