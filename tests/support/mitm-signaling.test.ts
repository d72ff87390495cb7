import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io, type Socket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { coalesce, delay, dropAfter, killAfter, rewrite, stallAfter } from "./mitm-behaviours";
import { type Mitm, type Stage, startMitm } from "./mitm-signaling";

/** The proxy itself, against a small socket.io server standing in for the signaling server. */
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function upstream(onConnection: (s: import("socket.io").Socket) => void) {
  const http = createServer();
  const server = new Server(http);
  server.on("connection", onConnection);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

async function through(url: string, stages: Stage[] = []): Promise<Mitm> {
  const mitm = await startMitm(url, stages);
  closers.push(() => mitm.close());
  return mitm;
}

async function party(url: string, label?: string): Promise<Socket> {
  const socket = io(url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    query: label ? { party: label } : {},
  });
  closers.push(() => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** Three events from the server, each in its own macrotask. */
const threeTicks = (s: import("socket.io").Socket) => {
  let n = 0;
  const tick = () => {
    s.emit("x", { n: ++n });
    if (n < 3) setTimeout(tick, 20);
  };
  setTimeout(tick, 50);
};

describe("man-in-the-middle signaling proxy", () => {
  it("passes events and acks both ways unchanged, and knows who is who", async () => {
    const url = await upstream((s) => {
      s.on("session:request", (m: unknown, ack: (r: unknown) => void) => ack({ ok: true, echo: m }));
      s.on("ping", (ack: (r: unknown) => void) => s.emit("offer", { id: 1 }, (r: unknown) => ack(r)));
    });
    const mitm = await through(url);
    const a = await party(mitm.url, "alice");
    const reply = await a.timeout(2000).emitWithAck("session:request", { model: "m" });
    expect(reply).toEqual({ ok: true, echo: { model: "m" } });
    a.on("offer", (_m: unknown, ack: (r: unknown) => void) => ack({ taken: true }));
    expect(await a.timeout(2000).emitWithAck("ping")).toEqual({ taken: true });
    expect(mitm.parties[0]?.role).toBe("requester");
    expect(mitm.parties[0]?.label).toBe("alice");
    expect(mitm.log.map((m) => `${m.direction}:${m.kind}:${m.event}`)).toEqual([
      "to-server:event:session:request",
      "to-party:ack:session:request",
      "to-server:event:ping",
      "to-party:event:offer",
      "to-server:ack:offer",
      "to-party:ack:ping",
    ]);
  });

  it("coalesces two events into one delivery: no microtask runs between them at the party", async () => {
    const url = await upstream(threeTicks);
    const mitm = await through(url, [coalesce(1, { event: "x", direction: "to-party" })]);
    const a = await party(mitm.url);
    const seen: { n: number; microtaskRanSinceFirst: boolean }[] = [];
    let microtask = false;
    await new Promise<void>((resolve) =>
      a.on("x", (m: { n: number }) => {
        seen.push({ n: m.n, microtaskRanSinceFirst: microtask });
        if (m.n === 1) queueMicrotask(() => (microtask = true));
        if (m.n === 3) resolve();
      }),
    );
    expect(seen.map((s) => s.n)).toEqual([1, 2, 3]);
    expect(seen[1]?.microtaskRanSinceFirst).toBe(false);
    expect(seen[2]?.microtaskRanSinceFirst).toBe(true);
  });

  it("drops after the n-th, stalls until released, delays in order and rewrites", async () => {
    const url = await upstream(threeTicks);
    const stall = stallAfter(1, { event: "x", label: "s" });
    const mitm = await through(url, [
      dropAfter(2, { event: "x", label: "d" }),
      stall,
      delay(100, { event: "x", label: "r" }),
      rewrite({ event: "x", label: "r" }, ([m]) => [{ n: (m as { n: number }).n * 10 }]),
    ]);
    const got: Record<string, number[]> = { d: [], s: [], r: [] };
    for (const label of ["d", "s", "r"]) {
      const s = await party(mitm.url, label);
      s.on("x", (m: { n: number }) => got[label]?.push(m.n));
    }
    await expect.poll(() => got.r, { timeout: 5000 }).toEqual([10, 20, 30]);
    await expect.poll(() => stall.held, { timeout: 5000 }).toBe(2);
    expect(got.d).toEqual([1, 2]);
    expect(got.s).toEqual([1]);
    expect(stall.release().map((m) => (m.args[0] as { n: number }).n)).toEqual([2, 3]);
  });

  it("kills a party after the n-th event: both of its connections close", async () => {
    let serverSawLeave = false;
    const url = await upstream((s) => {
      threeTicks(s);
      s.on("disconnect", () => (serverSawLeave = true));
    });
    const mitm = await through(url, [killAfter(1, { event: "x" })]);
    const a = await party(mitm.url);
    const got: number[] = [];
    a.on("x", (m: { n: number }) => got.push(m.n));
    await new Promise<void>((r) => a.once("disconnect", () => r()));
    await expect.poll(() => serverSawLeave, { timeout: 5000 }).toBe(true);
    expect(got).toEqual([1]);
    expect(mitm.parties[0]?.killed).toBe(true);
  });
});
