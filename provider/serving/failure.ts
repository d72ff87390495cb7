import { type ProviderErrorCode, SilkError } from "../../protocol";
import { QueueFullError } from "./slots";

/**
 * A request's failure as the requester reads it: the error's own code (queue full, protocol), a
 * field the engine cannot honour as UNSUPPORTED (its message names the field), a prompt longer
 * than the context window as CONTEXT_LENGTH_EXCEEDED, any other engine failure as ENGINE, the
 * rest INTERNAL.
 */
export function failureOf(err: unknown): { code: ProviderErrorCode; message: string } {
  return { code: codeOf(err), message: err instanceof Error ? err.message.slice(0, 400) : "internal error" };
}

function codeOf(err: unknown): ProviderErrorCode {
  if (err instanceof SilkError) return err.code;
  if (err instanceof QueueFullError) return err.code;
  if (err instanceof Error && err.name === "EngineError") {
    const reason = (err as { reason?: string }).reason;
    if (reason === "context") return "CONTEXT_LENGTH_EXCEEDED";
    return reason === "unsupported" ? "UNSUPPORTED" : "ENGINE";
  }
  return "INTERNAL";
}
