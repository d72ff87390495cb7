/**
 * The baselines for the signaling benchmark: a bare socket.io server with the same transport
 * settings as the signaling server. `ping` is acked at once (one round trip). `relay` is passed to
 * a client that said `serve` and acked once that client acks (two round trips through the server,
 * the shape of a pairing: requester → server → provider → server → requester), each time to the
 * next such client in turn, as pairing rotates through equal providers; `relay-hot` always to the
 * first, so the same sockets stay warm in every cache. `pair` and `end` are a pairing's messages
 * with none of its logic (see below). Prints its port as JSON on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
const servers: Socket[] = [];
let next = 0;
let sessions = 0;
const open = new Map<string, Socket>();
io.on("connection", (socket) => {
  socket.on("ping", (_payload: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  socket.on("serve", (_payload: unknown, ack: (r: unknown) => void) => {
    servers.push(socket);
    socket.once("disconnect", () => servers.splice(servers.indexOf(socket), 1));
    ack({ ok: true });
  });
  const relay = (target: Socket | undefined, payload: unknown, ack: (r: unknown) => void) => {
    if (!target) return ack({ ok: false });
    target
      .timeout(10_000)
      .emit("relayed", payload, (err: unknown, reply: unknown) => ack(err ? { ok: false } : reply));
  };
  socket.on("relay", (payload: unknown, ack: (r: unknown) => void) =>
    relay(servers[next++ % servers.length], payload, ack),
  );
  socket.on("relay-hot", (payload: unknown, ack: (r: unknown) => void) => relay(servers[0], payload, ack));
  // A pairing's messages in the signaling server's order, with none of its logic (no checks,
  // parsing, directory or rooms): the grant acked, then the offer (the request's payload) to the
  // next target in the same turn, its answer read in the background; at the end, the target told,
  // then the end acked. What a pairing costs past this is the server's own work.
  socket.on("pair", (payload: object, ack: (r: unknown) => void) => {
    const target = servers[next++ % servers.length];
    if (!target) return ack({ ok: false });
    const sessionId = String(++sessions);
    open.set(sessionId, target);
    ack({ ok: true, sessionId });
    target.timeout(10_000).emit("offer", { ...payload, sessionId }, () => undefined);
  });
  socket.on("end", (payload: { sessionId?: unknown }, ack: (r: unknown) => void) => {
    const sessionId = String(payload?.sessionId);
    open.get(sessionId)?.emit("ended", { sessionId });
    open.delete(sessionId);
    ack({ ok: true });
  });
});
http.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", port: (http.address() as AddressInfo).port }));
});
process.on("SIGTERM", () => {
  void io.close().then(() => process.exit(0));
});
