import { PROTOCOL_VERSION } from "../protocol";
import type { ServerContext } from "./context";
import type { SessionRecord } from "./directory/directory";
import { disband } from "./session-parties";

export type EndReason = "ended" | "peer-disconnected" | "offer-withdrawn" | "shutdown" | "node-lost";

/** Ends caused by signaling itself, not a party: typed, so a relayed session's parties know why. */
const END_ERRORS: Partial<Record<EndReason, { code: string; message: string }>> = {
  shutdown: { code: "SHUTTING_DOWN", message: "the signaling node relaying this session is shutting down" },
  "node-lost": { code: "NODE_LOST", message: "a party's signaling node died" },
};

/**
 * Ends a session once, whoever asks first: frees the provider's unit of capacity (in the same
 * directory step that removes the record), tells the parties other than `exceptSocketId` why, and
 * empties the session (at once for an in-node one, so nothing more is relayed in it; a room on
 * every node, via the adapter).
 */
export async function endSession(
  ctx: ServerContext,
  sessionId: string,
  reason: EndReason,
  exceptSocketId?: string,
): Promise<boolean> {
  return endSessionNow(ctx, sessionId, reason, exceptSocketId);
}

/** `endSession`, done in this turn when the directory closes the session without a round trip. */
export function endSessionNow(
  ctx: ServerContext,
  sessionId: string,
  reason: EndReason,
  exceptSocketId?: string,
): boolean | Promise<boolean> {
  const tell = disband(ctx, sessionId, exceptSocketId);
  const now = ctx.directory.closeNow?.(sessionId);
  if (now) return ended(ctx, sessionId, reason, tell, now.record);
  return ctx.directory.closeSession(sessionId).then((record) => ended(ctx, sessionId, reason, tell, record));
}

/** Tells the parties why the session ended; true when this call freed its place. */
function ended(
  ctx: ServerContext,
  sessionId: string,
  reason: EndReason,
  tell: (event: string, payload: unknown) => void,
  record: SessionRecord | undefined,
): boolean {
  const error = END_ERRORS[reason];
  tell("session:ended", { v: PROTOCOL_VERSION, sessionId, reason, ...(error && { error }) });
  if (!record) return false;
  ctx.feed.changed();
  ctx.log.debug({ session: sessionId, reason }, "session ended");
  return true;
}
