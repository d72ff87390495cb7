import { billableEmbedTokens, maxEmbedTokens } from "../../protocol";
import { type EmbedRequest, vectorToBase64 } from "../../protocol/schemas/embedding";
import { failureOf, fromEngine } from "./failure";
import { admit, type RequestServing, waitForCredit } from "./request-serving";

/**
 * Serves one embeddings request on an open account. An embedding is billed per input token (the
 * prompt price), at most the bound the requester can check (one token per byte of each input,
 * plus markers): that bound must fit what the escrow can still pay before the engine is asked,
 * and the credit window must not be spent, as before a chat's next token. Vectors go out one
 * message per input, then `done` with the prompt tokens; the requester signs for them after.
 */
export async function serveEmbed(req: EmbedRequest, s: RequestServing): Promise<void> {
  if (!s.served.features?.includes("embeddings") || !s.engine.embed)
    return s.refuse("UNSUPPORTED", `model: ${req.model} here does not make embeddings`);
  const { ledger, credit, exposure } = s;
  const bound = maxEmbedTokens(req.input);
  s.life.send({ type: "answer-start" });
  let release: (() => void) | undefined;
  // A cancel before the engine has run is answered as one (the requester's AbortError), nothing
  // billed: it was an INTERNAL error while queued, and no answer at all once admitted (the
  // requester waited for its frame deadline, then read a stall).
  const cancelled = async () => {
    if (s.session.isOpen)
      await s.session.send({
        v: 1,
        t: "done",
        id: req.id,
        finish_reason: "abort",
        usage: { prompt_tokens: 0, completion_tokens: 0 },
      });
  };
  try {
    release = await s.slots.acquire(s.signal).catch((err: unknown) => {
      if (s.signal.aborted) return undefined;
      throw err;
    });
    if (!release) return await cancelled();
    if (!(await admit(s, req.id, bound, 0))) return;
    await waitForCredit(s, req.id);
    if (s.signal.aborted || !s.session.isOpen) {
      ledger.finish(req.id, 0);
      return await cancelled();
    }
    const result = await s.engine.embed({ ...req }, s.signal).catch((err: unknown) => {
      throw fromEngine(err);
    });
    if (result.vectors.length !== req.input.length)
      throw new Error(`the engine made ${result.vectors.length} embeddings for ${req.input.length} inputs`);
    const settled = ledger.finish(req.id, billableEmbedTokens(result.promptTokens, req.input));
    credit.record(ledger.totals());
    exposure?.owe(ledger.totals().amount);
    for (const [index, vector] of result.vectors.entries()) {
      s.life.send({ type: "credit" }); // a big batch is progress, not a stall
      await s.session.send({ v: 1, t: "embedding", id: req.id, index, vector: vectorToBase64(vector) });
    }
    s.onDone(settled, "stop");
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
    await s.refuse(failure.code, failure.message, failure.detail);
  } finally {
    release?.();
    s.life.send({ type: "answer-end" });
  }
}
