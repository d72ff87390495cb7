import { PROTOCOL_VERSION } from "../protocol";
import type { ServerContext } from "./context";
import { sessionIsLocal, sessionRoom } from "./context";

export type EndReason = "ended" | "peer-disconnected" | "offer-withdrawn" | "shutdown" | "node-lost";

/** Ends caused by signaling itself, not a party: typed, so a relayed session's parties know why. */
const END_ERRORS: Partial<Record<EndReason, { code: string; message: string }>> = {
  shutdown: { code: "SHUTTING_DOWN", message: "the signaling node relaying this session is shutting down" },
  "node-lost": { code: "NODE_LOST", message: "a party's signaling node died" },
};

/**
 * Ends a session once, whoever asks first: frees the provider's unit of capacity (in the same
 * directory step that removes the record), tells the
 * parties other than `exceptSocketId` why, and empties the room (on every node, via the adapter).
 */
export async function endSession(
  ctx: ServerContext,
  sessionId: string,
  reason: EndReason,
  exceptSocketId?: string,
): Promise<boolean> {
  const room = sessionRoom(sessionId);
  const record = await ctx.directory.closeSession(sessionId);
  // Both parties here: no need to tell other nodes.
  const nodes = sessionIsLocal(ctx, room) ? ctx.io.local : ctx.io;
  const target = exceptSocketId ? nodes.to(room).except(exceptSocketId) : nodes.to(room);
  const error = END_ERRORS[reason];
  target.emit("session:ended", { v: PROTOCOL_VERSION, sessionId, reason, ...(error && { error }) });
  nodes.in(room).socketsLeave(room);
  if (!record) return false;
  ctx.feed.changed();
  ctx.log.debug({ session: sessionId, reason }, "session ended");
  return true;
}
