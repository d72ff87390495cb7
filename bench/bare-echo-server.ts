/**
 * The baseline for the signaling benchmark: a bare socket.io server that acks `ping` at once,
 * with the same transport settings as the signaling server. Prints its port as JSON on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
io.on("connection", (socket) => {
  socket.on("ping", (_payload: unknown, ack: (r: unknown) => void) => ack({ ok: true }));
});
http.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", port: (http.address() as AddressInfo).port }));
});
process.on("SIGTERM", () => {
  void io.close().then(() => process.exit(0));
});
