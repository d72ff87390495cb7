import { ChannelClosedError, type ErrorCode, type SessionGranted, wireError } from "../protocol";

/** A refusal or failure from the signaling server, typed by the protocol's error code. */
export class SignalingError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "SignalingError";
    this.code = code;
  }
}

/**
 * The server's own refusal of a request (its ack said `ok: false`): its word, which nothing
 * checks. Every other `SignalingError` is the client's own finding (no answer by the deadline, the
 * connection gone, a malformed or replayed answer). Its `name` stays "SignalingError".
 */
export class ServerRefusalError extends SignalingError {}

/** A requester's session the server moved to another provider before the first one took it. */
export class SessionMovedError extends ChannelClosedError {
  constructor(readonly to: SessionGranted) {
    super("the provider did not take the session; the server moved it to another");
  }
}

/**
 * The signaling server would not carry a frame of a relayed session (its relay budget ran dry for
 * longer than the link waits, the session unknown to it, no answer): the session ends for the
 * server's doing, not the peer's. `cause` is the server's refusal or the client's finding.
 */
export class RelayRefusedError extends ChannelClosedError {
  /**
   * The servers that refused, in the order they were asked (one, but for `relayRefusedEnd`'s: every
   * server the request tried, those that failed it otherwise first).
   */
  readonly servers: readonly string[];
  constructor(server: string, cause: unknown, said?: { servers: readonly string[]; message: string }) {
    // The server's refusal by its code (checked: wireError); its own text stays on `cause`, never
    // in our message, since a lying server writes it as it likes. The client's own finding whole.
    const why =
      cause instanceof ServerRefusalError
        ? cause.code
        : cause instanceof SignalingError
          ? `${cause.code}: ${cause.message}`
          : String(cause);
    super(
      said?.message ?? `the signaling server at ${server} did not carry a frame of the session (${why})`,
      {
        cause,
      },
    );
    this.name = "RelayRefusedError";
    this.servers = said?.servers ?? [server];
  }
}

/**
 * What ends a request every server asked of which refused to carry its sessions or failed it
 * otherwise: one error naming each server tried and why, in the order asked — `earlier`, the SDK's
 * own words for servers that failed it before the relays refused (its directory unavailable, no
 * answer; a server's unchecked text never among them), then each server that refused to relay,
 * how many sessions it refused and why (each refusal's own words), the last refusal its cause.
 */
export function relayRefusedEnd(
  refusals: readonly RelayRefusedError[],
  earlier: readonly { readonly server: string; readonly why: string }[] = [],
): RelayRefusedError {
  const byServer = new Map<string, RelayRefusedError[]>();
  for (const r of refusals) for (const s of r.servers) byServer.set(s, [...(byServer.get(s) ?? []), r]);
  const last = refusals[refusals.length - 1];
  const servers = [...new Set([...earlier.map((e) => e.server), ...byServer.keys()])];
  const each = [...byServer.values()].map((rs) => {
    const words = [...new Set(rs.map((r) => r.message))].join("; ");
    return rs.length > 1 ? `${words} (on ${rs.length} sessions)` : words;
  });
  const ending =
    earlier.length > 0
      ? `every signaling server asked failed the request: ${[...earlier.map((e) => e.why), ...each].join("; ")}`
      : servers.length > 1
        ? `every signaling server asked refused to relay the request's sessions: ${each.join("; ")}`
        : `${each[0]}; the request ends`;
  return new RelayRefusedError(servers[0] ?? "", last?.cause, { servers, message: ending });
}

/** Why the server ended a session: its `reason`, and for `no-provider` why nobody took it. */
export interface SessionEndNotice {
  readonly reason: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Nobody took a requester's session, after the server's own failover; `why` is a request's error code. */
export class SessionNotTakenError extends ChannelClosedError {
  constructor(
    readonly why: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A session that ran through signaling ended because signaling went away, not the other party:
 * `SHUTTING_DOWN` (the node is leaving), `NODE_LOST` (the other party's node died) or
 * `SIGNALING_LOST` (our own connection dropped). Only relayed sessions end so; direct ones go on.
 */
export class SignalingLostError extends ChannelClosedError {
  constructor(
    readonly why: "SHUTTING_DOWN" | "NODE_LOST" | "SIGNALING_LOST",
    message: string,
  ) {
    super(message);
  }
}

const LOST: Record<string, [SignalingLostError["why"], string]> = {
  shutdown: ["SHUTTING_DOWN", "the signaling node relaying this session is shutting down"],
  "node-lost": ["NODE_LOST", "the other party's signaling node died"],
  "signaling-lost": ["SIGNALING_LOST", "the connection to signaling dropped"],
};

/** Ends that come from signaling going away: a direct session, which needs no server, outlives them. */
export function endedBySignaling(end: SessionEndNotice): boolean {
  return end.reason in LOST;
}

/**
 * The server said the session ended (the peer left or ended it): its word only. Before a direct
 * channel is proven nobody can check it, so it blames neither party (a provider that truly left
 * is out of the directory anyway).
 */
export class SessionEndedNoticeError extends ChannelClosedError {
  constructor(readonly reason: string) {
    super(`session ended: ${reason} (the signaling server's word)`);
    this.name = "SessionEndedNoticeError";
  }
}

/** The error a party sees for the end of its session: typed by why it ended. */
export function sessionEndError(end: SessionEndNotice): ChannelClosedError {
  const lost = LOST[end.reason];
  if (lost) return new SignalingLostError(lost[0], lost[1]);
  if (!end.error) return new SessionEndedNoticeError(end.reason);
  const e = wireError(end.error, "signaling server");
  return new SessionNotTakenError(e.code, e.message);
}
