import type { ServerContext, SilkSocket } from "./context";

/**
 * Who is in a session, as this node knows it. A session whose requester and provider are both
 * sockets of this node (every session with one node, and clients that dial the same node) is
 * "in node": its two sockets are kept in `ctx.inNode` and in each socket's `data.sessions`, and
 * everything for the other party is written straight to its socket. No socket.io room is joined,
 * broadcast to or emptied for it: those cost the pairing path about a fifth of the server's work
 * (issue 17, run P). A session across nodes is a socket.io room (`s:<id>`), which the Redis
 * adapter spans, so either node reaches the party on the other.
 */

export const SESSION_ROOM_PREFIX = "s:";

export function sessionRoom(sessionId: string): string {
  return SESSION_ROOM_PREFIX + sessionId;
}

/** The sockets of an in-node session still in it (the requester leaves first when it moves on). */
export interface InNodeSession {
  readonly parties: SilkSocket[];
}

/**
 * Puts both parties in a new session: directly when the provider's socket is on this node (then
 * returned), else the requester in the session's room and the provider through the adapter (its
 * join published on the same Redis channel as the offer that follows, so it lands first).
 */
export function joinSession(
  ctx: ServerContext,
  sessionId: string,
  requester: SilkSocket,
  providerSocketId: string,
): SilkSocket | undefined {
  const provider = ctx.io.of("/").sockets.get(providerSocketId);
  if (provider) {
    ctx.inNode.set(sessionId, { parties: [requester, provider] });
    enter(requester, sessionId);
    enter(provider, sessionId);
    return provider;
  }
  const room = sessionRoom(sessionId);
  requester.join(room);
  ctx.io.in(providerSocketId).socketsJoin(room);
  return undefined;
}

/** Made with a socket's first in-node session, not at connection: 0.16 KB per idle provider. */
function enter(socket: SilkSocket, sessionId: string): void {
  socket.data.sessions ??= new Set();
  socket.data.sessions.add(sessionId);
}

export function isParty(socket: SilkSocket, sessionId: string): boolean {
  return socket.data.sessions?.has(sessionId) === true || socket.rooms.has(sessionRoom(sessionId));
}

/** Takes `socket` out of the session (a requester moving on); the others stay until it ends. */
export function leaveSession(ctx: ServerContext, socket: SilkSocket, sessionId: string): void {
  const here = ctx.inNode.get(sessionId);
  if (!here) {
    socket.leave(sessionRoom(sessionId));
    return;
  }
  socket.data.sessions?.delete(sessionId);
  const at = here.parties.indexOf(socket);
  if (at >= 0) here.parties.splice(at, 1);
}

/** The sessions `socket` is a party to on this node. */
export function sessionsOf(socket: SilkSocket): string[] {
  const ids = socket.data.sessions ? [...socket.data.sessions] : [];
  for (const room of socket.rooms)
    if (room.startsWith(SESSION_ROOM_PREFIX)) ids.push(room.slice(SESSION_ROOM_PREFIX.length));
  return ids;
}

/** Sends `event` to the session's other party, wherever it is. */
export function toOthers(
  ctx: ServerContext,
  socket: SilkSocket,
  sessionId: string,
  event: string,
  payload: unknown,
): void {
  const here = ctx.inNode.get(sessionId);
  if (!here) {
    socket.to(sessionRoom(sessionId)).emit(event, payload);
    return;
  }
  for (const party of here.parties) if (party !== socket) party.emit(event, payload);
}

/**
 * Empties the session at once (nothing more is relayed in it) and returns a function that tells
 * its parties other than `exceptSocketId`, called once the directory has closed it. An in-node
 * session's parties are told directly; a room's through the adapter, on every node.
 */
export function disband(
  ctx: ServerContext,
  sessionId: string,
  exceptSocketId: string | undefined,
): (event: string, payload: unknown) => void {
  const here = ctx.inNode.get(sessionId);
  if (here) {
    ctx.inNode.delete(sessionId);
    for (const party of here.parties) party.data.sessions?.delete(sessionId);
    return (event, payload) => {
      for (const party of here.parties) if (party.id !== exceptSocketId) party.emit(event, payload);
    };
  }
  const room = sessionRoom(sessionId);
  return (event, payload) => {
    (exceptSocketId ? ctx.io.to(room).except(exceptSocketId) : ctx.io.to(room)).emit(event, payload);
    ctx.io.in(room).socketsLeave(room);
  };
}
