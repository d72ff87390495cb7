import type * as v from "valibot";
import { jsonSize, MAX_SIGNALING_MESSAGE_BYTES, PROTOCOL_VERSION, parseWith } from "../protocol";
import type { ServerContext, SilkSocket } from "./context";
import { SignalingError, toWireError } from "./errors";

/**
 * Every client event goes through `guard`: rate limit, size limit, version, schema, then the
 * handler; whatever goes wrong becomes a typed error in the ack, and nothing escapes to crash the
 * process. Events sent without an ack callback get their error as a `server:error` event instead.
 */

export type AckBody =
  | { ok: true; [key: string]: unknown }
  | { ok: false; error: { code: string; message: string } };

/**
 * A success whose follow-up must wait until the ack is on the wire: pairing writes the grant to
 * the requester before the offer to the provider, so the requester's wait never includes it.
 */
export class AckThen {
  constructor(
    readonly body: AckBody,
    readonly after: () => void,
  ) {}
}

export interface EventSpec<S extends v.GenericSchema> {
  readonly schema: S;
  /**
   * Reads the payload as `schema` does, errors included, only faster (a hot event's hand check
   * in front of the schema, held to it by a test); `parseWith(schema)` without it.
   */
  readonly parse?: (payload: unknown, event: string) => v.InferOutput<S>;
  /** Size of the payload as it travelled; JSON size unless the event carries binary. */
  readonly sizeOf?: (payload: unknown) => number;
  readonly maxBytes?: number;
  /**
   * The socket's general event budget is charged only for refusals (a frame outside any session,
   * malformed, oversize), not for events the handler takes: relayed frames have their own
   * per-session budget, and charging both paced a fast relayed answer down to `eventsPerSecond`.
   * The handler's own `RATE_LIMITED` (that per-session budget) is not charged twice.
   */
  readonly chargeRefusalsOnly?: boolean;
}

/** A handler answers in this turn when it can (no promise to wait on), else with a promise. */
export type Handler<S extends v.GenericSchema> = (
  payload: v.InferOutput<S>,
  socket: SilkSocket,
) => AckBody | AckThen | Promise<AckBody | AckThen>;

/** An event's listener, called by socket.io with the socket as `this`. */
export type SocketListener = (this: SilkSocket, ...args: unknown[]) => void;
export type Listeners = readonly (readonly [event: string, listener: SocketListener])[];

/**
 * The guarded listener of `event`, made once per server and shared by every socket: a closure
 * per socket and event was some twenty objects per connection that every major collection marks.
 */
export function guarded<S extends v.GenericSchema>(
  ctx: ServerContext,
  event: string,
  spec: EventSpec<S>,
  handler: Handler<S>,
): readonly [string, SocketListener] {
  return [
    event,
    function (this: SilkSocket, ...args: unknown[]) {
      const ack =
        typeof args[args.length - 1] === "function" ? (args.pop() as (body: AckBody) => void) : undefined;
      const result = run(ctx, this, event, spec, handler, args[0], args.length);
      if (!(result instanceof Promise)) return answer(ctx, this, event, ack, result);
      void result.then(
        (body) => answer(ctx, this, event, ack, body),
        (err: unknown) => reply(ctx, this, event, ack, failure(ctx, this, event, err)),
      );
    },
  ];
}

/** Attaches a server's shared listeners to a new socket. */
export function listen(socket: SilkSocket, listeners: Listeners): void {
  for (const [event, listener] of listeners) socket.on(event, listener);
}

/**
 * Writes the ack, then runs an `AckThen`'s follow-up. Module-level, not a closure per event:
 * under tsx (keepNames) every named closure costs a `defineProperty` each time it is made.
 */
function answer(
  ctx: ServerContext,
  socket: SilkSocket,
  event: string,
  ack: ((body: AckBody) => void) | undefined,
  result: AckBody | AckThen,
): void {
  reply(ctx, socket, event, ack, result instanceof AckThen ? result.body : result);
  if (!(result instanceof AckThen)) return;
  try {
    result.after();
  } catch (err) {
    ctx.log.error({ err: errorSummary(err), event }, "follow-up failed");
  }
}

/** Checks, then the handler; a synchronous handler's answer is returned as it is, in this turn. */
function run<S extends v.GenericSchema>(
  ctx: ServerContext,
  socket: SilkSocket,
  event: string,
  spec: EventSpec<S>,
  handler: Handler<S>,
  payload: unknown,
  argCount: number,
): AckBody | AckThen | Promise<AckBody | AckThen> {
  let result: AckBody | AckThen | Promise<AckBody | AckThen>;
  try {
    if (!spec.chargeRefusalsOnly && !socket.data.events.take(Date.now()))
      throw new SignalingError("RATE_LIMITED", "too many events; slow down");
    if (argCount !== 1) throw new SignalingError("MALFORMED", `${event} takes one payload object`);
    const limit = spec.maxBytes ?? MAX_SIGNALING_MESSAGE_BYTES;
    const size = (spec.sizeOf ?? jsonSize)(payload);
    if (size > limit)
      throw new SignalingError(
        "OVERSIZE",
        Number.isFinite(size)
          ? `${event} payload of ${size} bytes exceeds ${limit}`
          : `${event} payload cannot be measured as JSON (nested too deeply, or not a JSON value); the limit is ${limit} bytes`,
      );
    if (typeof payload === "object" && payload !== null && "v" in payload && payload.v !== PROTOCOL_VERSION) {
      throw new SignalingError(
        "VERSION",
        `protocol version ${String(payload.v).slice(0, 12)} is not supported (this node speaks ${PROTOCOL_VERSION})`,
      );
    }
    const msg = spec.parse ? spec.parse(payload, event) : parseWith(spec.schema, payload, event);
    result = handler(msg, socket);
  } catch (err) {
    return refused(ctx, socket, event, spec, err);
  }
  return result instanceof Promise
    ? result.catch((err: unknown) => refused(ctx, socket, event, spec, err))
    : result;
}

/** The typed answer to a refused event (charged to the socket's budget when the spec says so). */
function refused<S extends v.GenericSchema>(
  ctx: ServerContext,
  socket: SilkSocket,
  event: string,
  spec: EventSpec<S>,
  err: unknown,
): AckBody {
  const ownLimit = err instanceof SignalingError && err.code === "RATE_LIMITED";
  if (spec.chargeRefusalsOnly && !ownLimit && !socket.data.events.take(Date.now()))
    return failure(ctx, socket, event, new SignalingError("RATE_LIMITED", "too many events; slow down"));
  return failure(ctx, socket, event, err);
}

function failure(ctx: ServerContext, socket: SilkSocket, event: string, err: unknown): AckBody {
  const error = toWireError(err);
  ctx.metrics.rejections.inc({ reason: error.code });
  if (error.code === "INTERNAL")
    ctx.log.error({ err: errorSummary(err), event, socket: socket.id }, "handler failed");
  else ctx.log.debug({ event, socket: socket.id, code: error.code }, "event refused");
  return { ok: false, error };
}

function reply(
  ctx: ServerContext,
  socket: SilkSocket,
  event: string,
  ack: ((body: AckBody) => void) | undefined,
  body: AckBody,
): void {
  try {
    if (ack) ack(body);
    else if (!body.ok)
      socket.emit("server:error", { v: PROTOCOL_VERSION, event: event.slice(0, 40), error: body.error });
  } catch (err) {
    ctx.log.error({ err: errorSummary(err), event }, "reply failed");
  }
}

export interface ErrorSummary {
  name: string;
  message: string;
  /** What it wrapped (`cause`, or an AggregateError's first errors), so no cause is hidden from the log. */
  causes?: ErrorSummary[];
}

/** Name and message only (and those of its causes): a stack is fine, a payload never. */
export function errorSummary(err: unknown, depth = 0): ErrorSummary {
  if (!(err instanceof Error)) return { name: typeof err, message: "non-error thrown" };
  const out: ErrorSummary = { name: err.name, message: err.message.slice(0, 200) };
  if (depth >= 3) return out;
  const inner = [
    ...(err.cause !== undefined ? [err.cause] : []),
    ...(err instanceof AggregateError ? [...err.errors].slice(0, 3) : []),
  ];
  if (inner.length > 0) out.causes = inner.map((e) => errorSummary(e, depth + 1));
  return out;
}

/** Events nobody registered for still cost the sender its rate budget and get an answer. */
export function unknownEvents(ctx: ServerContext, known: ReadonlySet<string>) {
  return function (this: SilkSocket, event: unknown, ...args: unknown[]): void {
    if (typeof event === "string" && known.has(event)) return;
    this.data.events.take(Date.now());
    const ack =
      typeof args[args.length - 1] === "function"
        ? (args[args.length - 1] as (b: AckBody) => void)
        : undefined;
    const name = typeof event === "string" ? event.slice(0, 40) : "?";
    reply(ctx, this, name, ack, failure(ctx, this, name, new SignalingError("MALFORMED", "unknown event")));
  };
}
