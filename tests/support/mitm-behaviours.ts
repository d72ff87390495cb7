import { encodePublicKey, type KeyPair, signQuote } from "../../protocol";
import { type Match, type MitmMessage, matches, type Stage } from "./mitm-signaling";

/**
 * Ready-made stages for `startMitm` (see mitm-signaling.ts). Each counts only the messages its
 * `match` selects; relayed ciphertext is the `session:frame` event, so `frames(...)` is the usual
 * match. Frames of a relayed session, in order: requester → provider HELLO, AUTH, base receipt,
 * then requests and receipts; provider → requester REPLY, account, then tokens and done.
 */
export function frames(to: "provider" | "requester", more: Omit<Match, "event" | "direction" | "role"> = {}) {
  return { ...more, event: "session:frame", direction: "to-party", role: to } satisfies Match;
}

/** Lets the first `n` matching messages through and drops every later one. */
export function dropAfter(n: number, match: Match): Stage {
  let seen = 0;
  return (m) => (matches(m, match) && ++seen > n ? null : undefined);
}

/** Holds the `nth` matching message (1-based) and delivers it with the next one, in one write. */
export function coalesce(nth: number, match: Match): Stage {
  let seen = 0;
  let held: MitmMessage | undefined;
  return (m) => {
    if (!matches(m, match)) return undefined;
    seen += 1;
    if (seen === nth) {
      held = m;
      return null;
    }
    if (held && seen === nth + 1) {
      const first = held;
      held = undefined;
      return [first, m];
    }
    return undefined;
  };
}

/** Delays every matching message by `ms` (those behind it on the same lane wait too). */
export function delay(ms: number, match: Match): Stage {
  return (m) => (matches(m, match) ? new Promise((r) => setTimeout(() => r(undefined), ms)) : undefined);
}

/** A stall: after `n` matching messages, the rest are held (the connection stays up) until `release`. */
export function stallAfter(
  n: number,
  match: Match,
): Stage & { release(): readonly MitmMessage[]; held: number } {
  let seen = 0;
  const held: MitmMessage[] = [];
  const stage = ((m: MitmMessage) => {
    if (!matches(m, match) || ++seen <= n) return undefined;
    held.push(m);
    return null;
  }) as Stage & { release(): readonly MitmMessage[]; held: number };
  Object.defineProperty(stage, "held", { get: () => held.length });
  stage.release = () => held.splice(0);
  return stage;
}

/**
 * After `n` matching messages have passed, kills the party the next one went to or came from,
 * once: other parties (a provider the session fails over to) are left alone.
 */
export function killAfter(n: number, match: Match): Stage {
  let seen = 0;
  let killed = false;
  return (m) => {
    if (killed || !matches(m, match) || ++seen <= n) return undefined;
    killed = true;
    m.party.kill();
    return null;
  };
}

/** Rewrites the payloads of every matching message (forged grants, swapped payouts, …). */
export function rewrite(
  match: Match,
  change: (args: readonly unknown[], m: MitmMessage) => unknown[],
): Stage {
  return (m) => (matches(m, match) ? { ...m, args: change(m.args, m) } : undefined);
}

/**
 * Names `forged` as every granted provider's identity key, with a quote that key signed for the
 * grant's terms: the quote checks out, so only the handshake (the real provider proving its own
 * key) catches it: IDENTITY_MISMATCH.
 */
export function forgedIdentity(forged: KeyPair): Stage {
  const identityKey = encodePublicKey(forged.publicKey);
  return rewrite({ event: "session:request", kind: "ack", direction: "to-party" }, ([grant]) => {
    const g = grant as {
      ok?: boolean;
      provider?: {
        payout: string;
        price: Record<string, string | number>;
        quote: { expiresAt: number; owner?: string };
      };
    };
    if (!g.ok || !g.provider) return [grant];
    const { price, payout, quote } = g.provider;
    const signature = signQuote(forged.secretKey, {
      owner: quote.owner,
      identityKey,
      payout,
      model: "test-model",
      price: {
        nanoPerToken: BigInt(price.nanoPerToken as string),
        promptMultiplierBps: Number(price.promptMultiplierBps),
        completionMultiplierBps: Number(price.completionMultiplierBps),
      },
      expiresAt: quote.expiresAt,
    });
    return [{ ...g, provider: { ...g.provider, identityKey, quote: { ...quote, signature } } }];
  });
}
