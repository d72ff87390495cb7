import { randomBytes } from "node:crypto";
import { PROTOCOL_VERSION } from "../protocol";
import type { ServerContext } from "./context";
import { sessionRoom } from "./context";

export type EndReason = "ended" | "peer-disconnected" | "offer-withdrawn" | "shutdown";

/** Random bytes drawn in blocks: one 18-byte draw per pairing costs more than the rest of the pick. */
let pool = Buffer.alloc(0);
let used = 0;

export function newSessionId(): string {
  if (used + 18 > pool.length) {
    pool = randomBytes(18 * 512);
    used = 0;
  }
  used += 18;
  return pool.toString("base64url", used - 18, used);
}

/**
 * Ends a session once, whoever asks first: frees the provider's unit of capacity, tells the
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
  const target = exceptSocketId ? ctx.io.to(room).except(exceptSocketId) : ctx.io.to(room);
  target.emit("session:ended", { v: PROTOCOL_VERSION, sessionId, reason });
  ctx.io.in(room).socketsLeave(room);
  if (!record) return false;
  await ctx.directory.release(record.identityKey, record.providerSocketId);
  ctx.feed.changed();
  ctx.log.debug({ session: sessionId, reason }, "session ended");
  return true;
}
