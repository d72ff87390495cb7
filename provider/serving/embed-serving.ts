import type { SessionLife } from "../../peer/session-life";
import {
  billableEmbedTokens,
  EscrowCannotPayError,
  type Ledger,
  type ModelPrice,
  maxEmbedTokens,
  type ProviderErrorCode,
  type SecureSession,
  type ServedModel,
} from "../../protocol";
import { type EmbedRequest, vectorToBase64 } from "../../protocol/schemas/embedding";
import type { Engine } from "../../web/engines/engine";
import type { CreditWindow } from "./credit";
import type { EscrowLimit } from "./escrow-limit";
import { failureOf } from "./failure";
import type { Slots } from "./slots";

/**
 * Serves one embeddings request on an open account. An embedding is billed per input token (the
 * prompt price), at most the bound the requester can check (one token per byte of each input,
 * plus markers): that bound must fit what the escrow can still pay before the engine is asked,
 * and the credit window must not be spent, as before a chat's next token. Vectors go out one
 * message per input, then `done` with the prompt tokens; the requester signs for them after.
 */
export interface EmbedServing {
  readonly session: SecureSession;
  readonly engine: Engine;
  readonly served: ServedModel;
  readonly price: ModelPrice;
  readonly ledger: Ledger;
  readonly credit: CreditWindow;
  readonly exposure: EscrowLimit | undefined;
  readonly slots: Slots;
  readonly life: SessionLife;
  readonly signal: AbortSignal;
  /** The escrow already could not pay: refuse at once. */
  readonly cannotPay: boolean;
  refuse(code: ProviderErrorCode, message: string): Promise<void>;
  /** This session takes no more requests: the escrow cannot pay for them. */
  stopPaying(): void;
  onDone(usage: { promptTokens: number; completionTokens: number; cost: bigint }): void;
  onCreditWait(): void;
}

export async function serveEmbed(req: EmbedRequest, s: EmbedServing): Promise<void> {
  if (!s.served.features?.includes("embeddings") || !s.engine.embed)
    return s.refuse("UNSUPPORTED", `model: ${req.model} here does not make embeddings`);
  const { ledger, credit, exposure } = s;
  const bound = maxEmbedTokens(req.input);
  s.life.send({ type: "answer-start" });
  let release: (() => void) | undefined;
  try {
    release = await s.slots.acquire(s.signal);
    ledger.start(req.id, s.price);
    if (exposure && (await exposure.closingNow())) {
      ledger.finish(req.id, 0);
      return await s.refuse("ESCROW_CLOSING", "the escrow started closing: no more is served on it");
    }
    if (s.cannotPay || (exposure && !(await exposure.allows(ledger.totalsIf(req.id, bound, 0).amount)))) {
      ledger.finish(req.id, 0);
      s.stopPaying();
      const e = new EscrowCannotPayError();
      return await s.refuse(e.code, e.message);
    }
    // A requester behind on receipts gets nothing more until it signs (bounded by the life's deadline).
    while (credit.exhausted(ledger.totals()) && !s.signal.aborted && s.session.isOpen) {
      s.onCreditWait();
      s.life.send({ type: "credit-wait" });
      await s.session.send({ v: 1, t: "credit-wait", id: req.id });
      await credit.nextCredit();
    }
    s.life.send({ type: "credit" });
    if (s.signal.aborted || !s.session.isOpen) {
      ledger.finish(req.id, 0);
      return;
    }
    const result = await s.engine.embed({ ...req }, s.signal);
    if (result.vectors.length !== req.input.length)
      throw new Error(`the engine made ${result.vectors.length} embeddings for ${req.input.length} inputs`);
    const settled = ledger.finish(req.id, billableEmbedTokens(result.promptTokens, req.input));
    credit.record(ledger.totals());
    exposure?.owe(ledger.totals().amount);
    for (const [index, vector] of result.vectors.entries()) {
      s.life.send({ type: "credit" }); // a big batch is progress, not a stall
      await s.session.send({ v: 1, t: "embedding", id: req.id, index, vector: vectorToBase64(vector) });
    }
    s.onDone(settled);
    await s.session.send({
      v: 1,
      t: "done",
      id: req.id,
      finish_reason: "stop",
      usage: { prompt_tokens: settled.promptTokens, completion_tokens: 0 },
    });
  } catch (err) {
    if (ledger.has(req.id)) ledger.finish(req.id, 0);
    if (!s.session.isOpen) return;
    const failure = failureOf(err);
    await s.refuse(failure.code, failure.message);
  } finally {
    release?.();
    s.life.send({ type: "answer-end" });
  }
}
