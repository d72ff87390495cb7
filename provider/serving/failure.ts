import { ENGINE_FAILURES, type EngineFailure, type ProviderErrorCode, SilkError } from "../../protocol";
import { EngineError } from "../../web/engines/engine";
import { asEngineError } from "../../web/engines/engine-failure";
import { QueueFullError } from "./slots";

/**
 * A request's failure as the requester reads it: the error's own code (queue full, protocol), a
 * field the engine cannot honour as UNSUPPORTED (its message names the field), a prompt longer
 * than the context window as CONTEXT_LENGTH_EXCEEDED, any other engine failure as ENGINE, said
 * only by its class (protocol/engine-failures.ts: the engine's own words stay here), the rest
 * INTERNAL, with no text of its own either.
 */
export function failureOf(err: unknown): { code: ProviderErrorCode; message: string; detail?: string } {
  if (err instanceof SilkError) return { code: err.code, message: messageOf(err) };
  if (err instanceof QueueFullError) return { code: err.code, message: messageOf(err) };
  const reason = engineReason(err);
  if (reason === "context") return { code: "CONTEXT_LENGTH_EXCEEDED", message: messageOf(err) };
  if (reason === "unsupported") return { code: "UNSUPPORTED", message: messageOf(err) };
  // The failure's own words (`detail`) are for the provider's eyes (its onEvent), not the wire.
  const detail = messageOf(err);
  if (!reason) return { code: "INTERNAL", message: "internal error", detail };
  return {
    code: "ENGINE",
    message: ENGINE_FAILURES[engineFailure(reason)] ?? ENGINE_FAILURES.backend,
    detail,
  };
}

/** What an engine threw, as served: a protocol error as it is, anything else an EngineError (its class). */
export function fromEngine(err: unknown): Error {
  return err instanceof SilkError ? err : asEngineError(err);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message.slice(0, 400) : "");

/** An EngineError's reason, also of one from another copy of the module (matched by name). */
function engineReason(err: unknown): EngineError["reason"] | undefined {
  if (err instanceof EngineError) return err.reason;
  if (!(err instanceof Error) || err.name !== "EngineError") return undefined;
  return (err as { reason?: EngineError["reason"] }).reason ?? "backend";
}

function engineFailure(reason: EngineError["reason"]): EngineFailure {
  switch (reason) {
    case "device-lost":
    case "out-of-memory":
    case "not-loaded":
    case "backend":
      return reason;
    case "quota":
    case "download":
    case "load":
      return "load";
    case "context":
    case "unsupported":
      return "backend";
  }
}
