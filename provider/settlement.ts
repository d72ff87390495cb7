import { EscrowError, EscrowParams } from "../contracts/generated/constants";
import type { SignedReceipt } from "../protocol/receipt";
import { formatTon } from "../protocol/ton-amount";
import { type ClaimChain, ClaimRefusedError, exitCodeOf } from "./claim-chain";
import type { EscrowBook } from "./escrow-book";
import {
  latestReceipt,
  payableReceipt,
  type ReceiptStore,
  type StreamRecord,
  streamId,
} from "./receipt-store";
import {
  type ClaimDecision,
  classifyRefusal,
  decideClaim,
  retryDelayMs,
  type SettlementPolicy,
} from "./settlement-policy";
import { type FeeEstimator, type SettlementStatus, type StreamPlan, statusOf } from "./settlement-status";

export type { SettlementStatus, StreamStatus } from "./settlement-status";

export interface SettlementOptions {
  readonly store: ReceiptStore;
  readonly chain: ClaimChain;
  readonly policy: SettlementPolicy;
  /** What this provider knows of each escrow (shared with serving); a private one when omitted. */
  readonly book?: EscrowBook;
  /** The expected fee of claiming a receipt now; undefined when the chain's prices are unknown. */
  readonly fee?: FeeEstimator;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Times to read the paid total after sending a claim before calling it unconfirmed. */
  readonly confirmPolls?: number;
  readonly confirmIntervalMs?: number;
  /** How often `sweepEvery` should run: well within the shortest close delay served (default 5 min). */
  readonly watchMs?: number;
}

type Trigger = "receipt" | "session-end" | "sweep" | "asked";

/**
 * The provider's settlement: keeps every receipt (durably, before more tokens are streamed on its
 * credit), claims each stream when the policy says so (worth its fee, or money at risk), retries
 * what can succeed later, watches the escrows it is owed by, and reports what was earned, what is
 * held, when and why each stream will be claimed, and what every claim cost.
 */
export class Settlement {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly errors = new Map<string, string>();
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private restored: Promise<void> | undefined;
  private currentPolicy: SettlementPolicy;

  constructor(private readonly opts: SettlementOptions) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = opts.now ?? Date.now;
    this.currentPolicy = opts.policy;
  }

  get policy(): SettlementPolicy {
    return this.currentPolicy;
  }

  get watchMs(): number {
    return this.opts.watchMs ?? 5 * 60_000;
  }

  /** An escrow is at risk below at least this headroom (the runtime's credit window's worth). */
  raiseRiskHeadroom(nano: bigint): void {
    if (nano > this.currentPolicy.riskHeadroomNano)
      this.currentPolicy = { ...this.currentPolicy, riskHeadroomNano: nano };
  }

  /**
   * Stores a receipt as it arrives. Resolves once it is durable: only then may the serving loop
   * stream tokens on its credit. `payable: false` marks one above what the escrow can pay: the
   * last payable receipt is kept beside it and claimed if it is refused.
   */
  async accept(signed: SignedReceipt, payable = true): Promise<void> {
    await this.restore();
    const result = await this.opts.store.put(signed, payable);
    if (payable) this.opts.book?.held(signed.receipt, signed.receipt.amount);
    if (result === "stored") void this.settle(streamId(signed.receipt), "receipt");
  }

  /** The session is over: claim whatever the policy says is due on its streams (all when omitted). */
  async endSession(ids?: readonly string[]): Promise<void> {
    await this.settleAll(ids, "session-end");
  }

  /** "Claim now": every stream with something claimable, whatever the fee share. */
  async claimNow(ids?: readonly string[]): Promise<void> {
    await this.settleAll(ids, "asked");
  }

  /**
   * Reads each escrow this provider is owed by (one read each) and claims what is due at once (a
   * restarted provider decides on what it holds without waiting), then again every `ms`: a closing
   * escrow at once, a claim that gave up after its retries again, a receipt held too long.
   * Returns the function that stops it.
   */
  sweepEvery(ms: number): () => void {
    let running = false;
    const sweep = () => {
      if (running) return;
      running = true;
      this.sweep()
        .catch(() => undefined)
        .finally(() => {
          running = false;
        });
    };
    const timer = setInterval(sweep, ms);
    (timer as { unref?: () => void }).unref?.();
    sweep();
    return () => clearInterval(timer);
  }

  async sweep(): Promise<void> {
    await this.restore();
    const book = this.opts.book;
    if (book) await Promise.all(book.owing().map((e) => book.refresh(e).catch(() => undefined)));
    await this.settleAll(undefined, "sweep");
  }

  /** Waits until no claim is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  async status(): Promise<SettlementStatus> {
    await this.restore();
    const records = await this.opts.store.list();
    const plans = await Promise.all(records.map((r) => this.plan(r, false)));
    const asked = await Promise.all(records.map((r) => this.plan(r, true)));
    return statusOf(plans, asked, this.errors);
  }

  /** Loads what the store holds into the book once, so a restarted provider decides as before. */
  restore(): Promise<void> {
    this.restored ??= (async () => {
      for (const r of await this.opts.store.list()) {
        const payable = payableReceipt(r).receipt;
        this.opts.book?.held(payable, payable.amount);
      }
    })();
    return this.restored;
  }

  private async settleAll(ids: readonly string[] | undefined, trigger: Trigger): Promise<void> {
    const all = ids ?? (await this.opts.store.list()).map((s) => s.id);
    await Promise.all(all.map((id) => this.settle(id, trigger)));
  }

  /** What the policy decides for a stream now, with the fee and the receipt it would claim. */
  private async plan(record: StreamRecord, asked: boolean): Promise<StreamPlan> {
    const target = payableReceipt(record);
    const r = target.receipt;
    const view = this.opts.book?.view(r.escrow);
    const read = view && view.readAt > 0 ? view : undefined;
    const fee = await this.opts.fee?.(target, record).catch(() => undefined);
    const decision: ClaimDecision = decideClaim(
      {
        unclaimed: r.amount - record.claimed,
        fee,
        heldSince: record.heldSince,
        now: this.now(),
        closing: (read?.unlockAt ?? 0) !== 0,
        keyRevoked: read !== undefined && this.opts.book!.keyDeadline(r) !== 0,
        crowding: read !== undefined && this.opts.book!.crowding(r),
        trustSpent: read !== undefined && this.opts.book!.trustSpent(r),
        headroom: read ? read.available - read.owed : undefined,
        asked,
      },
      this.currentPolicy,
    );
    return { record, target, fee, decision, escrow: read };
  }

  /** One claim per stream at a time; a trigger during a claim runs again after it. */
  private settle(id: string, trigger: Trigger): Promise<void> {
    const previous = this.inFlight.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.claimStream(id, trigger));
    this.inFlight.set(id, next);
    void next.finally(() => {
      if (this.inFlight.get(id) === next) this.inFlight.delete(id);
    });
    return next;
  }

  private async claimStream(id: string, trigger: Trigger): Promise<void> {
    const record = await this.opts.store.get(id);
    if (!record) return;
    try {
      await this.tryClaimStream(id, record, trigger);
    } finally {
      // Any claim of ours sent for the stream is over: a later rise is someone else's (escrow-book.ts).
      this.opts.book?.claimSettled(latestReceipt(record).receipt);
    }
  }

  private async tryClaimStream(id: string, record: StreamRecord, trigger: Trigger): Promise<void> {
    const { chain } = this.opts;
    const policy = this.currentPolicy;
    const plan = await this.plan(record, trigger === "asked");
    if (plan.decision.action !== "claim") return;
    const reason = plan.decision.reason;
    // A receipt above what the escrow could pay goes first (a top-up may have made it good); the
    // last payable one is what the decision was made on, and is claimed when the newest is refused.
    const candidates = record.payable ? [latestReceipt(record), plan.target] : [plan.target];
    const r = plan.target.receipt;

    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      try {
        const before = await chain.paid(r.escrow, r.keyEpoch, r.payout);
        await this.recordPaid(id, plan.target, before);
        if (before >= r.amount) return void this.errors.delete(id);
        for (const [i, signed] of candidates.entries()) {
          if (signed.receipt.amount <= before) continue;
          try {
            this.opts.book?.claiming(signed.receipt, signed.receipt.amount);
            await chain.claimExternal(signed);
          } catch (err) {
            const last = i === candidates.length - 1;
            if (
              !last &&
              err instanceof ClaimRefusedError &&
              classifyRefusal(err.exitCode, EscrowError) === "underfunded"
            )
              continue;
            throw err;
          }
          const seen = await this.confirmed(id, signed, before, reason, plan.fee);
          if (seen === "paid") return void this.errors.delete(id);
          // The escrow paid what it could (the reserve and the free balance): the rest waits for a
          // top-up and a new trigger, not for more reads or a resend it would refuse.
          if (seen === "in-part") return void this.errors.set(id, PAID_IN_PART);
          throw new Error("claim sent but not seen on chain yet");
        }
        return;
      } catch (err) {
        const kind =
          err instanceof ClaimRefusedError ? classifyRefusal(err.exitCode, EscrowError) : "transient";
        this.errors.set(id, describe(kind, err));
        if (kind === "paid") {
          await this.recordPaid(id, plan.target, await chain.paid(r.escrow, r.keyEpoch, r.payout));
          return;
        }
        if (kind === "too-costly" && chain.claimInternal) {
          await this.claimInternal(id, plan.target, reason, plan.fee);
          return;
        }
        // invalid, underfunded, below the minimum, too costly: wait for a new trigger
        if (kind !== "transient") return;
        if (attempt < policy.maxAttempts) await this.sleep(retryDelayMs(attempt, policy));
      }
    }
  }

  private async claimInternal(
    id: string,
    signed: SignedReceipt,
    reason: string,
    fee?: bigint,
  ): Promise<void> {
    try {
      const r = signed.receipt;
      const before = await this.opts.chain.paid(r.escrow, r.keyEpoch, r.payout);
      this.opts.book?.claiming(r, r.amount);
      await this.opts.chain.claimInternal?.(signed);
      const seen = await this.confirmed(id, signed, before, reason, fee);
      if (seen === "paid") this.errors.delete(id);
      else if (seen === "in-part") this.errors.set(id, PAID_IN_PART);
    } catch (err) {
      this.errors.set(id, `internal claim failed (exit code ${exitCodeOf(err) ?? "unknown"})`);
    }
  }

  private async recordPaid(id: string, signed: SignedReceipt, paid: bigint): Promise<void> {
    await this.opts.store.setClaimed(id, paid);
    this.opts.book?.paidRead(signed.receipt, paid);
  }

  /**
   * Reads the paid total until the claim shows: `paid` when it covers the receipt, `in-part` when
   * it rose short of it (a claim pays its stream's reserve and the free balance, and the receipt
   * stays claimable for the rest: nothing more comes of reading again), `unseen` when it never
   * rose. Records the paid total, and the claim's fee, once it rises.
   */
  private async confirmed(
    id: string,
    signed: SignedReceipt,
    before: bigint,
    reason: string,
    expectedFee: bigint | undefined,
  ): Promise<"paid" | "in-part" | "unseen"> {
    const r = signed.receipt;
    const polls = this.opts.confirmPolls ?? 10;
    let recorded = false;
    for (let i = 0; i < polls; i++) {
      const paid = await this.opts.chain.paid(r.escrow, r.keyEpoch, r.payout);
      if (paid > before && !recorded) {
        recorded = true;
        const tx = await this.opts.chain.claimTransaction?.(signed).catch(() => undefined);
        await this.opts.store.setClaimed(id, paid, {
          at: this.now(),
          amount: paid - before,
          fee: tx?.fee ?? expectedFee ?? 0n,
          reason,
          ...(tx && { tx: tx.hash }),
        });
        this.opts.book?.paidChanged(r, paid);
        this.opts.book?.claimed(r);
      }
      if (paid >= r.amount) return "paid";
      if (recorded) return "in-part";
      if (i + 1 < polls) await this.sleep(this.opts.confirmIntervalMs ?? 2_000);
    }
    return "unseen";
  }
}

const PAID_IN_PART = "paid in part: the escrow cannot pay the rest yet (claimed again after a top-up)";

function describe(kind: string, err: unknown): string {
  const code =
    err instanceof ClaimRefusedError && err.exitCode !== undefined ? ` (exit code ${err.exitCode})` : "";
  switch (kind) {
    case "paid":
      return "already paid on chain";
    case "underfunded":
      return `escrow cannot pay this yet${code}`;
    case "below-minimum":
      return `nothing to claim yet: the stream holds less than the escrow's minimum claim of ${formatTon(EscrowParams.MIN_CLAIM)} TON${code}`;
    case "invalid":
      return `escrow refuses this receipt${code}`;
    case "too-costly":
      return `escrow too large for an external claim${code}; needs a wallet to claim`;
    default:
      return `claim failed, will retry: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200);
  }
}
