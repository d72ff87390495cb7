import {
  AnswerBuilder,
  type AnswerFinish,
  type AnswerPiece,
  billablePromptTokens,
  buildStatement,
  type ChatRequest,
  completionBytesOf,
  endsInStopStart,
  type KeyPair,
  maxPromptTokens,
  receiptCanCarry,
  signStatement,
  stopSequenceIn,
  unaskedCall,
  utf8,
} from "../../protocol";
import { EngineError } from "../../web/engines/engine";
import { failureOf } from "./failure";
import { admit, type RequestServing, waitForCredit } from "./request-serving";
import { runOnEngine } from "./scoring";

export interface ChatServing extends RequestServing {
  /** Signs a statement of the answer (answer-statement.ts); without it the answer goes unsigned. */
  readonly identity: KeyPair | undefined;
  /** A chunk was streamed (for the page's counters). */
  onTokens(count: number): void;
}

/** What a request cancelled before it had a place made of the engine: nothing. */
const NOTHING_RUN = { finishReason: "abort", promptTokens: 0, completionTokens: 0 } as const;

/**
 * Serves one chat request on an open account: streams the engine's chunks within the credit
 * window, never past what the escrow can pay, then `done` with the usage billed and the signed
 * statement. The prompt is billed at the end; what it can cost is counted before the first token.
 */
export async function serveChat(req: ChatRequest, s: ChatServing): Promise<void> {
  const { ledger, credit, exposure } = s;
  const promptBound = maxPromptTokens(req);
  const owedAfter = (completion: number) => ledger.totalsIf(req.id, promptBound, completion);
  s.life.send({ type: "answer-start" });
  let release: (() => void) | undefined;
  try {
    release = await s.slots.acquire(s.signal).catch((err: unknown) => {
      if (s.signal.aborted) return undefined;
      throw err;
    });
    // Cancelled while it waited for a place: answered as a cancel is, `done` with "abort", with
    // nothing run or billed (it was a provider's "error" INTERNAL the requester had not caused).
    if (!release) {
      ledger.start(req.id, s.price);
      await finish(req, s, NOTHING_RUN, new AnswerBuilder(), "abort");
      return;
    }
    if (!(await admit(s, req.id, promptBound, 1))) return;
    // The prompts already billed count against the window too: a requester a window behind gets
    // no prefill (the dear part of a long prompt) until it signs.
    await waitForCredit(s, req.id);
    let total = 0;
    const answer = new AnswerBuilder();
    let cut: "closing" | "cannot-pay" | "max-tokens" | undefined;
    // What the session could not be owed, when cut for it: the next request's refusal says why.
    let unpayable: bigint | "stream" = "stream";
    // Cut short on its own signal, so a cut is told apart from the requester's cancel.
    const stop = new AbortController();
    const signal = AbortSignal.any([s.signal, stop.signal]);
    // A backend that does not honour `stop` is held to it here: the requester refuses, and pays
    // nothing from, a piece that streams a stop sequence (held back while it could be one).
    const stops = req.score ? undefined : req.stop;
    const held: AnswerPiece[] = [];
    let stopped = false;
    let oneCall = false;
    const send = async (chunk: AnswerPiece) => {
      await waitForCredit(s, req.id);
      if (signal.aborted || !s.session.isOpen) return;
      // An engine that does not read max_tokens (an HTTP backend) is stopped at it here: the
      // requester pays no token past the cap it asked for, and drops a session that streams one.
      if (req.max_tokens !== undefined && total + chunk.tokens > req.max_tokens) {
        cut = "max-tokens";
        stop.abort();
        return;
      }
      // Never owed more than the escrow, or a receipt, can pay: stop before a chunk that would cross it.
      const after = owedAfter(total + chunk.tokens);
      if (
        !receiptCanCarry(after) ||
        (exposure && (exposure.closing || !(await exposure.allows(after.amount))))
      ) {
        cut = exposure?.closing ? "closing" : "cannot-pay";
        if (receiptCanCarry(after)) unpayable = after.amount;
        stop.abort();
        return;
      }
      total += chunk.tokens;
      ledger.addCompletion(req.id, chunk.tokens);
      credit.record(ledger.totals());
      exposure?.owe(owedAfter(total).amount);
      s.onTokens(chunk.tokens);
      await s.session.send({
        v: 1,
        t: "tokens",
        id: req.id,
        text: chunk.text,
        ...(chunk.toolCalls && { tool_calls: [...chunk.toolCalls] }),
        ...(chunk.logprobs && { logprobs: [...chunk.logprobs] }),
        count: chunk.tokens,
        total,
      });
      answer.add(chunk);
    };
    const result = await runOnEngine(
      s.engine,
      req,
      async (chunk) => {
        // A backend that does not honour `tool_choice` (Ollama reads none) is held to it here: the
        // requester drops, as a liar, a provider that streams a call the request ruled out.
        let unasked = chunk.toolCalls && unaskedCall(req.tools, req, answer.toolCalls, chunk.toolCalls);
        // A second call where one was asked for: the first is whole, so the answer ends with it, as
        // a backend that honours parallel_tool_calls would have ended it. What of the first came in
        // the same piece (a backend that streams every call at once, as Ollama) is sent, once it
        // too is a call the request allows.
        const first = unasked?.param === "parallel_tool_calls" ? firstCallOf(chunk) : undefined;
        if (first?.toolCalls)
          unasked = unaskedCall(req.tools, req, answer.toolCalls, first.toolCalls) ?? unasked;
        if (unasked) {
          // Refused before any of the answer, the request may go to another provider: held text
          // is not sent first.
          if (unasked.param !== "parallel_tool_calls")
            throw new EngineError(
              "unsupported",
              `${unasked.param}: this provider's engine did not honour it (it ${unasked.why})`,
            );
          // Text held back (a possible stop sequence's start) came before the call: it is answer.
          for (const piece of held.splice(0)) if (!signal.aborted) await send(piece);
          if (first && !signal.aborted) await send(first);
          oneCall = true;
          stop.abort();
          return;
        }
        if (!stops) return send(chunk);
        // The pieces are sent as the engine gave them (so each meets the caps on its own); only
        // the text is read across them.
        const pieces = [...held.splice(0), chunk];
        const text = pieces.map((p) => p.text).join("");
        const hit = stopSequenceIn(stops, answer.text, text);
        if (hit) {
          let left = Math.max(0, hit.at);
          for (const piece of pieces) {
            if (left === 0 || signal.aborted) break;
            if (piece.text.length <= left) await send(piece);
            else await send(beforeStop(piece, piece.text.slice(0, left)));
            left -= Math.min(left, piece.text.length);
          }
          stopped = true;
          stop.abort();
        } else if (!chunk.toolCalls && endsInStopStart(stops, text)) held.push(...pieces);
        else for (const piece of pieces) if (!signal.aborted) await send(piece);
      },
      signal,
    );
    // Text held back that no stop sequence followed (the engine ended): it is the answer's end.
    for (const piece of held) if (!signal.aborted) await send(piece);
    // Cut short because the escrow cannot pay for more: "length", then the reason, typed.
    await finish(
      req,
      s,
      result,
      answer,
      cut
        ? "length"
        : stopped
          ? "stop"
          : oneCall
            ? "tool_calls"
            : signal.aborted
              ? "abort"
              : result.finishReason,
    );
    // The answer ends as cut short ("length"), so the requester signs for all of it; the next
    // request on this session is refused with the reason, typed.
    if (cut === "cannot-pay") s.stopPaying(unpayable);
  } catch (err) {
    if (ledger.has(req.id)) ledger.finish(req.id, 0);
    if (s.session.isOpen) {
      const failure = failureOf(err);
      await s.refuse(failure.code, failure.message, failure.detail);
    }
  } finally {
    release?.();
    s.life.send({ type: "answer-end" });
  }
}

/**
 * Bills what was streamed and the full prompt (bounded by what the requester can check), then
 * ends the answer with `done`: the usage billed and, with an identity, the signed statement.
 */
async function finish(
  req: ChatRequest,
  s: ChatServing,
  result: { promptTokens: number },
  answer: AnswerBuilder,
  finishReason: AnswerFinish,
): Promise<void> {
  const { ledger, credit, exposure } = s;
  const settled = ledger.finish(req.id, billablePromptTokens(result.promptTokens, req));
  credit.record(ledger.totals());
  exposure?.owe(ledger.totals().amount);
  s.onDone(settled, finishReason);
  if (!s.session.isOpen) return;
  await s.session.send({
    v: 1,
    t: "done",
    id: req.id,
    finish_reason: finishReason,
    usage: { prompt_tokens: settled.promptTokens, completion_tokens: settled.completionTokens },
    ...(s.identity && {
      signature: signStatement(
        s.identity,
        buildStatement({
          session: s.session.info.sessionId,
          request: req.id,
          provider: s.identity.publicKey,
          params: req,
          content: answer,
          finishReason,
          promptTokens: settled.promptTokens,
          completionTokens: settled.completionTokens,
        }),
      ).signature,
    }),
  });
}

/**
 * `piece` without its deltas of any call but the first (index 0), or undefined when nothing is
 * left: its tokens shared by bytes (at least one, never more than it had), its logprobs cut to match.
 */
function firstCallOf(piece: AnswerPiece): AnswerPiece | undefined {
  const calls = piece.toolCalls?.filter((d) => d.index === 0) ?? [];
  const kept = completionBytesOf(piece.text, calls);
  if (kept === 0 && calls.length === 0) return undefined;
  const all = Math.max(1, completionBytesOf(piece.text, piece.toolCalls));
  const tokens = Math.min(piece.tokens, Math.max(1, Math.round((piece.tokens * kept) / all)));
  return {
    text: piece.text,
    tokens,
    ...(calls.length > 0 && { toolCalls: calls }),
    ...(piece.logprobs && { logprobs: piece.logprobs.slice(0, tokens) }),
  };
}

/**
 * The part of `piece` before a stop sequence: at least one token, never more than its bytes can
 * have cost (the stop's own tokens are not billed), its logprobs cut to match.
 */
function beforeStop(piece: AnswerPiece, text: string): AnswerPiece {
  const tokens = Math.max(1, Math.min(piece.tokens, utf8(text).length));
  return { text, tokens, ...(piece.logprobs && { logprobs: piece.logprobs.slice(0, tokens) }) };
}
