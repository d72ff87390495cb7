import { toHex } from "../../protocol";
import { ProviderError } from "./errors";
import type { RequesterSession } from "./requester-session";

/**
 * What one request does when a provider refuses it QUOTE_EXPIRED (its clock ahead of ours, so the
 * session's quote ran out there first): the one policy for chat (failover.ts) and embeddings
 * (embeddings.ts). Only a refusal before any of the answer came counts: after a token the
 * provider had started, so the error is the answer (its tokens paid), never a reason to ask again
 * from the start. The session is retired and the request runs again on a fresh one, with the
 * provider's current quote; met again from that provider (its clock far ahead), it is left for
 * the request, its refusal the answer when nobody else serves. Counted per provider: another's
 * first refusal still gets its fresh session.
 */
export class QuoteRefusals {
  private readonly renewed = new Set<string>();

  constructor(private readonly retire: (session: RequesterSession) => void) {}

  /** "again" (on a fresh session), "leave" (not that provider), or undefined: `err` is no such refusal. */
  met(
    err: unknown,
    session: RequesterSession,
    streamed: boolean,
    signal: AbortSignal,
  ): "again" | "leave" | undefined {
    if (!(err instanceof ProviderError) || err.code !== "QUOTE_EXPIRED" || streamed || signal.aborted)
      return undefined;
    this.retire(session);
    const provider = toHex(session.providerKey);
    if (this.renewed.has(provider)) return "leave";
    this.renewed.add(provider);
    return "again";
  }
}
