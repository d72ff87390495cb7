/**
 * The baselines for the signaling benchmark: a bare socket.io server with the same transport
 * settings as the signaling server. `ping` is acked at once (one round trip). `relay` is passed to
 * a client that said `serve` and acked once that client acks (two round trips through the server,
 * the shape of a pairing: requester → server → provider → server → requester). Prints its port as
 * JSON on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
const servers: Socket[] = [];
let next = 0;
io.on("connection", (socket) => {
  socket.on("ping", (_payload: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
  socket.on("serve", (_payload: unknown, ack: (r: unknown) => void) => {
    servers.push(socket);
    ack({ ok: true });
  });
  socket.on("relay", (payload: unknown, ack: (r: unknown) => void) => {
    const target = servers[next++ % servers.length];
    if (!target) return ack({ ok: false });
    target
      .timeout(10_000)
      .emit("relayed", payload, (err: unknown, reply: unknown) => ack(err ? { ok: false } : reply));
  });
});
http.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", port: (http.address() as AddressInfo).port }));
});
process.on("SIGTERM", () => {
  void io.close().then(() => process.exit(0));
});
