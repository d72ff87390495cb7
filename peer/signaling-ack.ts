import type { Socket } from "socket.io-client";
import { PROTOCOL_VERSION, wireError } from "../protocol";
import { ServerRefusalError, SignalingError } from "./signaling-errors";

/** What the server acks every request with: `ok`, and on a refusal its typed error. */
export type AckBody = { ok: boolean; error?: { code: string; message: string }; [k: string]: unknown };

/** How long any request waits for the server's ack. */
export const ACK_TIMEOUT_MS = 15_000;

/**
 * One request over `socket` (to the server at `server`, named in a timeout) and its ack, by
 * `deadline`. `onOk` runs in the ack's own turn, before anything that came after it on the socket
 * (a grant's first relayed frames, say).
 */
export function callOn(
  socket: Socket,
  server: string,
  event: string,
  payload: unknown,
  deadline = Date.now() + ACK_TIMEOUT_MS,
  onOk?: (ack: AckBody) => void,
): Promise<AckBody> {
  const ms = Math.max(1, deadline - Date.now());
  // socket.io keeps what is emitted on a socket that is not connected in a buffer it sends on
  // reconnecting, which ours never do (one socket per connection): it would wait out `ms` there.
  if (!socket.connected) return Promise.reject(droppedError(server, event, "before it was sent"));
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, payload, (err: unknown, ack: unknown) => {
      try {
        if (err && !socket.connected) throw droppedError(server, event, "before the server answered");
        if (err)
          throw new SignalingError(
            "TIMEOUT",
            `the signaling server at ${server} did not answer ${event} within ${Math.ceil(ms / 1000)} s`,
          );
        const body = checkedAck(server, event, ack);
        onOk?.(body);
        resolve(body);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * The connection a request was on closed (it moved to another server, or dropped) before its
 * answer: never the server's word. `SignalingClient.call` asks it again on the next connection.
 */
function droppedError(server: string, event: string, when: string): SignalingError {
  return new SignalingError(
    "UNREACHABLE",
    `the connection to the signaling server at ${server} closed ${when} (${event})`,
  );
}

/**
 * The server's answer to `event` could not be read (`why`): the server is broken or lies, so it is
 * named, and it is never read as the request's own fault (MALFORMED is the request's).
 */
export function serverMalformed(server: string, event: string, why: string): SignalingError {
  return new SignalingError(
    "SERVER_MALFORMED",
    `the signaling server at ${server} answered ${event} with what cannot be read (${why.slice(0, 200)})`,
  );
}

/**
 * Codes by which a server blames the request itself. Said of a request this SDK's own schema
 * accepted (the server's schema too, if honest), they are the server's fault, not the request's:
 * OVERSIZE too, as the schema's bounds keep every request it accepts far under the server's limit
 * (tests/protocol/session-request-size.test.ts).
 */
const REQUEST_FAULTS: ReadonlySet<string> = new Set([
  "MALFORMED",
  "UNKNOWN_FIELD",
  "UNKNOWN_TYPE",
  "OVERSIZE",
]);

/**
 * The server at `server` refused `event` (`err`) in words that blame the request, though the
 * request is not at fault: SERVER_MALFORMED naming the server (a 502, another server may be
 * asked), never the request's code (the gateway's 400 "your request is wrong"). `VERSION` always
 * (every payload this SDK sends carries its own `PROTOCOL_VERSION`: the server speaks another);
 * `MALFORMED`, `UNKNOWN_FIELD`, `UNKNOWN_TYPE` and `OVERSIZE` when the payload passed this SDK's schema for it
 * (`checked`). Other refusals as they are.
 */
export function blameServer(server: string, event: string, err: unknown, checked: boolean): unknown {
  if (!(err instanceof ServerRefusalError)) return err;
  const said = `the signaling server at ${server} refused ${event} as ${err.code} (${err.message.slice(0, 200)})`;
  if (err.code === "VERSION")
    return new SignalingError(
      "SERVER_MALFORMED",
      `${said}, though this SDK sent it in protocol version ${PROTOCOL_VERSION}: ` +
        "the server speaks another protocol version",
    );
  if (!checked || !REQUEST_FAULTS.has(err.code)) return err;
  return new SignalingError(
    "SERVER_MALFORMED",
    `${said}, though the request is well-formed by this SDK's schema: the server is broken or lies`,
  );
}

/** An ack that is an object and says ok; a refusal becomes its typed error. */
function checkedAck(server: string, event: string, ack: unknown): AckBody {
  if (!ack || typeof ack !== "object")
    throw serverMalformed(server, event, `${ack === null ? "null" : typeof ack} where an object belongs`);
  const body = ack as AckBody;
  if (body.ok) return body;
  const e = wireError(
    typeof body.error?.code === "string" && typeof body.error.message === "string"
      ? { code: body.error.code, message: body.error.message.slice(0, 500) }
      : { code: "INTERNAL", message: `${event} refused` },
    "signaling server",
  );
  throw new ServerRefusalError(e.code, e.message);
}
