import type { SessionLife } from "../../peer/session-life";
import {
  billableEmbedTokens,
  type Ledger,
  type ModelPrice,
  type SecureSession,
  type SessionMessage,
} from "../../protocol";
import { type EmbedParams, vectorFromBase64 } from "../../protocol/schemas/embedding";
import { linkAbort } from "./abort-link";
import { ProviderError, providerError, unsent } from "./errors";

/** An embeddings answer as the requester verified and paid for it. */
export interface EmbedOutcome {
  /** One per input, in the inputs' order. */
  readonly vectors: readonly Float32Array[];
  readonly promptTokens: number;
  /** nanoTON the request cost. */
  readonly cost: bigint;
  readonly price: ModelPrice;
}

interface Pending {
  readonly params: EmbedParams;
  readonly price: ModelPrice;
  readonly vectors: (Float32Array | undefined)[];
  readonly resolve: (r: EmbedOutcome) => void;
  readonly reject: (e: Error) => void;
  dimensions: number | undefined;
  /** When the last vector came (or the request was sent): `progress` alone counts only so long after it. */
  lastVector: number;
}

/** What an embeddings call needs of its session (requester-session.ts owns them). */
export interface EmbedSessionParts {
  readonly session: SecureSession;
  readonly ledger: Ledger;
  readonly life: SessionLife;
  /** Signs a receipt for everything verified so far. */
  signNow(): Promise<void>;
  /** Ends the session with `err`: the provider broke the protocol. */
  abandon(err: Error): void;
}

let nextId = 0;

/**
 * The requester's side of embeddings on one session: sends the request, checks that exactly one
 * vector arrives per input, all of one length (the `dimensions` asked for, when asked), and that
 * the prompt billed is within the bound it can check, then signs for it. A cancel waits for the
 * provider's `done`, so both sides settle the same amount.
 */
export class EmbedCalls {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly parts: EmbedSessionParts) {}

  request(params: EmbedParams, price: ModelPrice, signal?: AbortSignal): Promise<EmbedOutcome> {
    const id = `e${++nextId}`;
    const { session, ledger, life } = this.parts;
    const outcome = new Promise<EmbedOutcome>((resolve, reject) => {
      const vectors = Array.from(params.input, () => undefined);
      this.pending.set(id, {
        params,
        price,
        vectors,
        resolve,
        reject,
        dimensions: params.dimensions,
        lastVector: Date.now(),
      });
      life.send({ type: "answer-start" });
      ledger.start(id, price);
      Promise.resolve()
        .then(() => session.send({ v: 1, t: "embed", id, ...params, input: [...params.input] }))
        .catch((err: Error) => this.settle(id, unsent(err, "input")));
    });
    const unlink = linkAbort(
      signal,
      () => void session.send({ v: 1, t: "cancel", id }).catch(() => undefined),
    );
    return outcome.finally(unlink);
  }

  /** Takes the messages about this session's embeddings calls; false for anything else. */
  handle(m: SessionMessage): boolean {
    if (!("id" in m) || m.id === undefined) return false;
    const p = this.pending.get(m.id);
    if (!p) return false;
    // As a chat answer's (requester-session.ts): "working" or "waiting for credit" alone keeps
    // it alive only for `progress` after the last vector; either used to reset `frame` without end.
    const { life } = this.parts;
    const mereWord = m.t === "progress" || m.t === "credit-wait";
    if (!mereWord || Date.now() - p.lastVector < life.deadlines.progress) life.frame();
    if (m.t === "embedding") this.onVector(p, m.index, m.vector);
    else if (m.t === "done") void this.onDone(m.id, p, m.finish_reason, m.usage);
    // the provider's UNSUPPORTED names the field (model: …) that it cannot serve (provider-said.ts)
    else if (m.t === "error") this.settle(m.id, providerError(m.error, m.error.param, p.params));
    else if (m.t !== "credit-wait" && m.t !== "progress")
      this.parts.abandon(
        new ProviderError("UNEXPECTED", `a provider does not answer embeddings with ${m.t}`),
      );
    return m.t !== "credit-wait";
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** One call in flight fails with `err` (a message about it that could not be read). */
  fail(id: string, err: Error): void {
    this.settle(id, err);
  }

  /** The session ended: every call in flight fails with `err`, nothing signed for it. */
  failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, err);
  }

  private onVector(p: Pending, index: number, text: string): void {
    const why = this.vectorProblem(p, index, text);
    if (why) this.parts.abandon(new ProviderError("UNEXPECTED", `embeddings: ${why}`));
  }

  /** Keeps a vector that fits the request, or says why it does not. */
  private vectorProblem(p: Pending, index: number, text: string): string | undefined {
    if (index >= p.vectors.length) return `a vector for input ${index} of ${p.vectors.length}`;
    if (p.vectors[index]) return `two vectors for input ${index}`;
    let vector: Float32Array;
    try {
      vector = vectorFromBase64(text);
    } catch (err) {
      return (err as Error).message;
    }
    if (p.dimensions !== undefined && vector.length !== p.dimensions)
      return `a vector of ${vector.length} dimensions, not ${p.dimensions}`;
    p.dimensions = vector.length;
    p.vectors[index] = vector;
    p.lastVector = Date.now();
    return undefined;
  }

  private async onDone(
    id: string,
    p: Pending,
    finish: string,
    usage: { prompt_tokens: number; completion_tokens: number },
  ): Promise<void> {
    const complete = p.vectors.every((x) => x !== undefined);
    if (finish !== "abort" && (!complete || usage.completion_tokens !== 0))
      return this.parts.abandon(
        new ProviderError("UNEXPECTED", "embeddings: the answer ended without every vector"),
      );
    const settled = this.parts.ledger.finish(id, billableEmbedTokens(usage.prompt_tokens, p.params.input));
    // Whole and checked: a close while it is signed for is not a provider lost mid-answer (as chat).
    this.pending.delete(id);
    try {
      await this.parts.signNow();
    } catch (err) {
      return p.reject(err as Error);
    } finally {
      this.parts.life.send({ type: "answer-end" });
    }
    if (finish === "abort") p.reject(new DOMException("the embeddings request was cancelled", "AbortError"));
    else
      p.resolve({
        vectors: p.vectors as Float32Array[],
        promptTokens: settled.promptTokens,
        cost: settled.cost,
        price: p.price,
      });
  }

  private settle(id: string, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.parts.life.send({ type: "answer-end" });
    if (this.parts.ledger.has(id)) this.parts.ledger.finish(id, 0);
    p.reject(err);
  }
}
