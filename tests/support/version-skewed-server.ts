import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

/** How a signaling node of protocol version 2 refuses our version-1 payloads. */
export const VERSION_REFUSAL = {
  ok: false,
  error: { code: "VERSION", message: "protocol version 1 is not supported (this node speaks 2)" },
};

/**
 * A signaling server speaking another protocol version: a real socket.io server on loopback that
 * refuses every event with `VERSION_REFUSAL`. Close its `io` after the file.
 */
export async function versionSkewedServer(): Promise<{ url: string; io: Server }> {
  const io = new Server();
  const http = createServer();
  io.attach(http);
  io.on("connection", (socket) => {
    socket.onAny((...args: unknown[]) => {
      const ack = args.at(-1);
      if (typeof ack === "function") ack(VERSION_REFUSAL);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, io };
}
