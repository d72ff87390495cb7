import { RelayRefusedError } from "../../peer/signaling-client";
import type { Need } from "../../protocol";
import type { RunResult } from "./completion-stream";
import { type ConnectOptions, DEFAULT_QUEUE_TIMEOUT_MS } from "./connect-options";
import { NoProviderError, ProviderError, ProviderLostError, StalledError, TamperedError } from "./errors";
import { QuoteRefusals } from "./quote-refusal";
import { isNoOtherProvider, isOneProvidersRefusal } from "./refusal-kinds";
import type { AnswerDelta, RequesterSession, RequestInput } from "./requester-session";
import { providerBlamed } from "./session-lost";
import type { RoomWait, SessionSource } from "./session-source";

/** How long a failover waits for a provider to be listed again (they re-register within seconds). */
const RESUME_MS = 8_000;
const ANSWERED_NOBODY = new Set(["NO_MODEL", "ALL_BUSY", "NO_ANSWER"]);
const RESUMABLE = new Set([...ANSWERED_NOBODY, "UNREACHABLE", "TIMEOUT"]);

/**
 * Runs the request on the model's pool of sessions, moving to another provider (with the partial
 * answer as context) if one vanishes, and to another (or waiting for room, up to
 * `queueTimeoutMs`) when one refuses it with QUEUE_FULL.
 */
export async function runWithFailover(
  source: SessionSource,
  opts: Pick<ConnectOptions, "queueTimeoutMs" | "maxFailovers" | "onFailover">,
  input: RequestInput,
  needs: readonly Need[],
  /** Each verified piece, with the provider that sent it. */
  onDelta: (d: AnswerDelta, provider: string) => void,
  signal: AbortSignal,
  /** Providers (identity keys) never to send this request to: `avoid` in the request. */
  avoid: readonly string[] = [],
): Promise<RunResult> {
  const exclude: string[] = [...avoid];
  const full = new Set<string>();
  const deadline = Date.now() + (opts.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS);
  const pool = source.poolOf(input.model);
  let partial = "";
  let failovers = 0;
  let spentCompletion = 0;
  let spentCost = 0n;
  // How the last session was lost, as the error naming it says when nobody can continue.
  let lostHow = "the provider disconnected mid-answer";
  // An open session's provider that refused this escrow for its own stream's history: the answer
  // if no other provider can take the request.
  let refused: ProviderError | undefined;
  // Sessions renewed for this request after a provider said their quote ran out.
  const quoteRefusals = new QuoteRefusals((s) => source.retire(s), source.quoteRefused);
  const links = source.links;
  // Sessions the signaling servers would not relay, mid-answer or opening: two at one server fail it.
  const refusals: RelayRefusedError[] = [];
  for (;;) {
    let picked: { provider: string; session: RequesterSession };
    const room = { full, deadline, signal, refusals };
    try {
      picked =
        failovers === 0
          ? await source.sessionFor(input.model, exclude, needs, room).catch((err: unknown) => {
              // The link to signaling dropped while this request was being placed (a node that
              // died and came back, say): its providers are still registering again, so "nobody
              // serves it" is asked again for a few seconds, as for a failover.
              if (source.links === links || !isAnsweredNobody(err) || signal.aborted) throw err;
              return resume(source, input.model, exclude, needs, room);
            })
          : await resume(source, input.model, exclude, needs, room);
    } catch (err) {
      // Cancelled by its caller (an AbortError, as fetch's): not a provider lost.
      if (signal.aborted) throw err;
      if (failovers === 0) throw refused && isNoOtherProvider(err) ? refused : err;
      // Every server asked refused to relay the request's sessions (session-opener.ts): that is
      // the answer, whole when nothing of the answer came; else it says what came before.
      if (err instanceof RelayRefusedError) {
        if (!partial && spentCompletion === 0) throw err;
        throw new ProviderLostError(
          partial,
          spentCompletion,
          spentCost,
          err,
          `the answer was cut: ${err.message}`,
        );
      }
      const why = err instanceof NoProviderError ? ` (${err.code})` : "";
      throw new ProviderLostError(
        partial,
        spentCompletion,
        spentCost,
        err,
        `${lostHow} and no other provider could continue it${why}`,
      );
    }
    const { provider, session } = picked;
    const attempt: RequestInput = partial
      ? {
          ...input,
          messages: [...input.messages, { role: "assistant", content: partial }],
          ...(input.max_tokens !== undefined && {
            max_tokens: Math.max(1, input.max_tokens - spentCompletion),
          }),
        }
      : input;
    const load = pool.sessions.begin(provider);
    // Whether anything of the answer came from this provider (a failure before it may go elsewhere).
    let streamed = false;
    const delta = (d: AnswerDelta) => {
      streamed = true;
      onDelta(d, provider);
    };
    try {
      const r = await source.tracked(session, () => session.request(attempt, delta, signal));
      return {
        ...r,
        text: partial + r.text,
        promptTokens: r.promptTokens,
        completionTokens: spentCompletion + r.completionTokens,
        cost: spentCost + r.cost,
        provider,
        failovers,
      };
    } catch (err) {
      // A full queue is a refusal before any token: the request goes to another provider.
      if (err instanceof ProviderError && err.code === "QUEUE_FULL" && !signal.aborted) {
        pool.sessions.full(provider, load.inflight);
        full.add(provider);
        continue;
      }
      // The session's quote ran out at the provider before ours said so (quote-refusal.ts).
      const quote = quoteRefusals.met(err, session, streamed, signal);
      if (quote === "leave") {
        exclude.push(provider);
        refused = err as ProviderError;
      }
      if (quote) continue;
      // Refused before any token for what happened on that provider's own stream (FOREIGN_CLAIMS,
      // ESCROW_CROWDED, …): it serves this escrow no more, another provider may. After a token the
      // provider had started: the error is the answer (its tokens paid), never asked again from
      // the start elsewhere, where they would be paid twice.
      if (isOneProvidersRefusal(err) && !streamed && failovers === 0 && !signal.aborted) {
        pool.sessions.remove(provider);
        session.close();
        exclude.push(provider);
        refused = err;
        continue;
      }
      // Its engine failed before a token came (no model loaded, out of memory): another provider
      // may serve, and this one is asked no more for the model until its session is pooled again;
      // with nobody else, the failure is the answer.
      if (err instanceof ProviderError && err.code === "ENGINE" && !streamed && !signal.aborted) {
        pool.sessions.remove(provider);
        exclude.push(provider);
        refused = err;
        continue;
      }
      // Its engine cannot honour a field of this request (WebLLM a named tool_choice, a backend
      // that ignores tool_choice): another provider's may. Out of the pool as for ENGINE, so the
      // request does not wait for room on it; with nobody else, the refusal is the answer.
      if (err instanceof ProviderError && err.code === "UNSUPPORTED" && !streamed && !signal.aborted) {
        pool.sessions.remove(provider);
        exclude.push(provider);
        refused = err;
        continue;
      }
      // A stall or tampering cannot be pinned on the provider: end with it rather than blame one.
      if (!(err instanceof ProviderLostError) || err instanceof StalledError || err instanceof TamperedError)
        throw err;
      if (signal.aborted || err.midToolCall) throw err;
      pool.sessions.remove(provider);
      // Signaling went away, or a relay would not carry the session's frames: not the provider.
      if (providerBlamed(err)) exclude.push(provider);
      if (err.cause instanceof RelayRefusedError) refusals.push(err.cause);
      lostHow =
        err.cause instanceof RelayRefusedError
          ? `${err.cause.message} mid-answer (the provider is not blamed),`
          : "the provider disconnected mid-answer";
      if (++failovers > (opts.maxFailovers ?? 2)) throw err;
      opts.onFailover?.({ model: input.model, failovers });
      partial += err.partial;
      spentCompletion += err.tokens;
      spentCost += err.cost;
    } finally {
      load.end();
    }
  }
}

/**
 * A session to continue an answer on. Right after signaling comes back, providers are still
 * registering again: "nobody serves it" is then asked again for a few seconds (`RESUME_MS`).
 */
async function resume(
  source: SessionSource,
  model: string,
  exclude: readonly string[],
  needs: readonly Need[],
  room: RoomWait,
): Promise<{ provider: string; session: RequesterSession }> {
  const deadline = Date.now() + RESUME_MS;
  for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await source.sessionFor(model, exclude, needs, room);
    } catch (err) {
      const retry = isResumable(err);
      if (!retry || room.signal.aborted || Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * A node that answered "nobody to take it" (not one that could not be reached: the request has
 * waited out its deadline for that already), which providers registering again would undo.
 */
function isAnsweredNobody(err: unknown): boolean {
  return err instanceof NoProviderError && ANSWERED_NOBODY.has(err.code);
}

/** "Nobody to take it" in a way that providers registering again would undo. */
function isResumable(err: unknown): boolean {
  return err instanceof NoProviderError && RESUMABLE.has(err.code);
}
