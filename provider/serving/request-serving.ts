import type { SessionLife } from "../../peer/session-life";
import {
  type Ledger,
  type ModelPrice,
  type ProviderErrorCode,
  receiptCanCarry,
  type SecureSession,
  type ServedModel,
} from "../../protocol";
import type { Engine } from "../../web/engines/engine";
import type { CreditWindow } from "./credit";
import type { EscrowLimit, MidSessionRefusal } from "./escrow-limit";
import type { Slots } from "./slots";

/** What serving one request on an open account needs from its session (chat or embeddings). */
export interface RequestServing {
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
  /** Why this session takes no more requests, if it does not (read when the request holds a slot): refused at once. */
  cannotPay(): MidSessionRefusal | undefined;
  /** `detail`: the provider's own words for a failure of its own, told its `onEvent`, never the requester. */
  refuse(code: ProviderErrorCode, message: string, detail?: string): Promise<void>;
  /**
   * This session takes no more requests: the session may not be owed `amount` (cumulative), or
   * more than a receipt can count ("stream"). Returns what it says to them (the first cause stands).
   */
  stopPaying(amount: bigint | "stream"): MidSessionRefusal;
  onDone(usage: { promptTokens: number; completionTokens: number; cost: bigint }, finishReason: string): void;
  onCreditWait(): void;
}

export const CLOSING_MESSAGE =
  "the escrow started closing: no more is served on it; what was streamed is claimed";

export const KEY_REVOKED_MESSAGE =
  "the session key was revoked in the escrow, which pays its receipts only until its grace ends: no more is served on it; what was streamed is claimed";

/**
 * Opens the request on the ledger (its prompt at most `promptBound` tokens) once it holds an
 * engine slot, or refuses it (typed) when the escrow is closing, the session's key was revoked, or
 * the escrow (or a receipt: `receiptCanCarry`) cannot pay what the session would be owed once the
 * request starts (`firstCompletion` tokens, its prompt and every open one's at their bounds).
 * Returns false when refused: the caller stops, the slot is its to release.
 */
export async function admit(
  s: RequestServing,
  id: string,
  promptBound: number,
  firstCompletion: number,
): Promise<boolean> {
  const { ledger, exposure } = s;
  ledger.start(id, s.price, promptBound);
  if (exposure && (await exposure.closingNow())) {
    ledger.finish(id, 0);
    if (exposure.keyRevoked) await s.refuse("KEY_NOT_AUTHORISED", KEY_REVOKED_MESSAGE);
    else await s.refuse("ESCROW_CLOSING", CLOSING_MESSAGE);
    return false;
  }
  const refusal = exposure?.refusal;
  if (refusal) {
    ledger.finish(id, 0);
    await s.refuse(refusal.code, refusal.message);
    return false;
  }
  const first = ledger.totalsIf(id, promptBound, firstCompletion);
  const carried = receiptCanCarry(first);
  const stopped = s.cannotPay();
  if (stopped || !carried || (exposure && !(await exposure.allows(first.amount)))) {
    ledger.finish(id, 0);
    const said = stopped ?? s.stopPaying(carried ? first.amount : "stream");
    await s.refuse(said.code, said.message);
    return false;
  }
  return true;
}

/**
 * A requester behind on receipts gets nothing more until it signs. The wait has a deadline (the
 * life's `credit` timer): past it the session ends, which aborts the request and frees the engine.
 */
export async function waitForCredit(s: RequestServing, id: string): Promise<void> {
  const { credit, ledger } = s;
  if (!credit.exhausted(ledger.totals())) return;
  while (credit.exhausted(ledger.totals()) && !s.signal.aborted && s.session.isOpen) {
    s.onCreditWait();
    s.life.send({ type: "credit-wait" });
    await s.session.send({ v: 1, t: "credit-wait", id });
    await credit.nextCredit();
  }
  s.life.send({ type: "credit" });
}
