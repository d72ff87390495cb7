import { encodePublicKey } from "../../protocol";
import { ProviderError } from "./errors";
import type { RequesterSession } from "./requester-session";

/**
 * What one request does when a provider refuses it QUOTE_EXPIRED (its clock ahead of ours, so the
 * session's quote ran out there first): the one policy for chat (failover.ts) and embeddings
 * (embeddings.ts). Only a refusal before any of the answer came counts: after a token the
 * provider had started, so the error is the answer (its tokens paid), never a reason to ask again
 * from the start. The session is retired and the request runs again on a fresh one, with the
 * provider's current quote; met again from that provider (its clock far ahead), it is left for
 * the request, its refusal the answer when nobody else serves, and remembered for a while
 * (`QuoteRefusedLately`) so the next requests ask it last. Counted per provider: another's first
 * refusal still gets its fresh session.
 */
export class QuoteRefusals {
  private readonly renewed = new Set<string>();

  constructor(
    private readonly retire: (session: RequesterSession) => void,
    private readonly lately?: QuoteRefusedLately,
  ) {}

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
    const provider = encodePublicKey(session.providerKey);
    if (!this.renewed.has(provider)) {
      this.renewed.add(provider);
      return "again";
    }
    this.lately?.note(provider);
    return "leave";
  }
}

/** How long a provider that refused a fresh session's quote too is asked last. */
export const QUOTE_REFUSED_MEMORY_MS = 5 * 60_000;
/** Providers remembered so at most; past it the oldest is forgotten. */
export const QUOTE_REFUSED_MEMORY_SIZE = 64;

/**
 * Providers that refused QUOTE_EXPIRED on a fresh session too, lately, across requests: each such
 * provider cost a request two opens, and would cost the next as much (a clock far ahead stays so).
 * The session source asks them last, only when nobody else will serve (session-source.ts); the
 * memory is short and bounded, so a provider whose clock was put right is asked first again soon.
 */
export class QuoteRefusedLately {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly memoryMs = QUOTE_REFUSED_MEMORY_MS,
    private readonly size = QUOTE_REFUSED_MEMORY_SIZE,
  ) {}

  note(provider: string): void {
    this.until.delete(provider);
    if (this.until.size >= this.size) this.until.delete(this.until.keys().next().value!);
    this.until.set(provider, this.now() + this.memoryMs);
  }

  /** The providers remembered now (identity keys), oldest first. */
  providers(): string[] {
    const now = this.now();
    // In the order noted, so the expired come first.
    for (const [provider, until] of this.until) {
      if (until > now) break;
      this.until.delete(provider);
    }
    return [...this.until.keys()];
  }
}
