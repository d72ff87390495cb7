import type { Server, Socket } from "socket.io";

/**
 * Turns the real signaling server of a browser test into one that fails chosen calls: from
 * `answer(event, reply)` on, every `event` a party sends is answered with `reply` instead of
 * reaching the server's handler (a node of another version, a broken one). Only connections made
 * after it is made are watched; `off()` ends it.
 */
export interface FaultyServer {
  /** From now on `event` is answered with `reply`; `undefined` lets it through again. */
  answer(event: string, reply: unknown): void;
  /** How many `event`s were answered with a fault so far. */
  faulted(event: string): number;
  /** Drops the connections of providers (those that sent provider:register) or of everyone else. */
  kick(who: "provider" | "requester"): void;
  off(): void;
}

export function faultyServer(io: Server): FaultyServer {
  const replies = new Map<string, unknown>();
  const counts = new Map<string, number>();
  const providers = new WeakSet<Socket>();
  const watched = new Set<Socket>();
  const watch = (socket: Socket) => {
    watched.add(socket);
    socket.on("disconnect", () => watched.delete(socket));
    socket.use((packet, next) => {
      const [event, ...args] = packet;
      if (event === "provider:register") providers.add(socket);
      if (!replies.has(event)) return next();
      counts.set(event, (counts.get(event) ?? 0) + 1);
      const ack = args.at(-1);
      if (typeof ack === "function") ack(replies.get(event));
    });
  };
  io.on("connection", watch);
  return {
    answer(event, reply) {
      if (reply === undefined) replies.delete(event);
      else replies.set(event, reply);
    },
    faulted: (event) => counts.get(event) ?? 0,
    kick(who) {
      for (const socket of [...watched])
        if (providers.has(socket) === (who === "provider")) socket.disconnect(true);
    },
    off() {
      replies.clear();
      io.off("connection", watch);
    },
  };
}
