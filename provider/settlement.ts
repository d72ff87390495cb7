import { EscrowError } from "../contracts/generated/constants";
import type { SignedReceipt } from "../protocol/receipt";
import { type ClaimChain, ClaimRefusedError, exitCodeOf } from "./claim-chain";
import { latestReceipt, type ReceiptStore, type StreamRecord, streamId } from "./receipt-store";
import { classifyRefusal, decideClaim, retryDelayMs, type SettlementPolicy } from "./settlement-policy";

export interface StreamStatus {
  readonly id: string;
  readonly tokens: bigint;
  readonly amount: bigint;
  readonly claimed: bigint;
  readonly pending: bigint;
  readonly lastError?: string;
}

export interface SettlementStatus {
  readonly claimed: bigint;
  readonly pending: bigint;
  readonly streams: StreamStatus[];
}

export interface SettlementOptions {
  readonly store: ReceiptStore;
  readonly chain: ClaimChain;
  readonly policy: SettlementPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Times to read the paid total after sending a claim before calling it unconfirmed. */
  readonly confirmPolls?: number;
  readonly confirmIntervalMs?: number;
}

/**
 * The provider's settlement: keeps every receipt (durably, before more tokens are streamed on
 * its credit), claims at session end or when unclaimed value passes the threshold, retries
 * what can succeed later, and reports what was claimed and what is pending.
 */
export class Settlement {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly errors = new Map<string, string>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: SettlementOptions) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Stores a receipt as it arrives. Resolves once it is durable: only then may the serving loop
   * stream tokens on its credit. A claim is started in the background when one is due.
   */
  async accept(signed: SignedReceipt): Promise<void> {
    const result = await this.opts.store.put(signed);
    if (result === "stored") void this.settle(streamId(signed.receipt), false);
  }

  /** The session is over: claim whatever is worth claiming on its streams (all when omitted). */
  async endSession(ids?: readonly string[]): Promise<void> {
    const all = ids ?? (await this.opts.store.list()).map((s) => s.id);
    await Promise.all(all.map((id) => this.settle(id, true)));
  }

  /**
   * Tries every stream with something unclaimed at once (a restarted provider claims what it
   * holds without waiting), then again every `ms`: a claim that gave up after its retries (chain
   * unreachable, escrow underfunded) is not forgotten until the next session, and nothing waits
   * past an escrow's close delay unclaimed. Returns the function that stops it.
   */
  sweepEvery(ms: number): () => void {
    let running = false;
    const sweep = () => {
      if (running) return;
      running = true;
      this.endSession()
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

  /** Waits until no claim is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  async status(): Promise<SettlementStatus> {
    const streams = (await this.opts.store.list()).map((s) => this.streamStatus(s));
    return {
      claimed: streams.reduce((t, s) => t + s.claimed, 0n),
      pending: streams.reduce((t, s) => t + s.pending, 0n),
      streams,
    };
  }

  private streamStatus(s: StreamRecord): StreamStatus {
    const r = latestReceipt(s).receipt;
    const error = this.errors.get(s.id);
    return {
      id: s.id,
      tokens: r.tokens,
      amount: r.amount,
      claimed: s.claimed,
      pending: r.amount - s.claimed,
      ...(error ? { lastError: error } : {}),
    };
  }

  /** One claim per stream at a time; a trigger during a claim runs again after it. */
  private settle(id: string, sessionEnded: boolean): Promise<void> {
    const previous = this.inFlight.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.claimStream(id, sessionEnded));
    this.inFlight.set(id, next);
    void next.finally(() => {
      if (this.inFlight.get(id) === next) this.inFlight.delete(id);
    });
    return next;
  }

  private async claimStream(id: string, sessionEnded: boolean): Promise<void> {
    const { store, chain, policy } = this.opts;
    const record = await store.get(id);
    if (!record) return;
    const signed = latestReceipt(record);
    const r = signed.receipt;
    if (decideClaim(r.amount, record.claimed, sessionEnded, policy) !== "claim") return;

    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      try {
        const paid = await chain.paid(r.escrow, r.keyEpoch, r.payout);
        await store.setClaimed(id, paid);
        if (decideClaim(r.amount, paid, sessionEnded, policy) !== "claim") {
          this.errors.delete(id);
          return;
        }
        await chain.claimExternal(signed);
        if (await this.confirmed(signed)) {
          this.errors.delete(id);
          return;
        }
        throw new Error("claim sent but not seen on chain yet");
      } catch (err) {
        const kind =
          err instanceof ClaimRefusedError ? classifyRefusal(err.exitCode, EscrowError) : "transient";
        this.errors.set(id, describe(kind, err));
        if (kind === "paid") {
          await store.setClaimed(id, await chain.paid(r.escrow, r.keyEpoch, r.payout));
          return;
        }
        if (kind === "too-costly" && chain.claimInternal) {
          await this.claimInternal(signed, id);
          return;
        }
        if (kind !== "transient") return; // invalid, underfunded, too costly: wait for a new trigger
        if (attempt < policy.maxAttempts) await this.sleep(retryDelayMs(attempt, policy));
      }
    }
  }

  private async claimInternal(signed: SignedReceipt, id: string): Promise<void> {
    try {
      await this.opts.chain.claimInternal?.(signed);
      if (await this.confirmed(signed)) this.errors.delete(id);
    } catch (err) {
      this.errors.set(id, `internal claim failed (exit code ${exitCodeOf(err) ?? "unknown"})`);
    }
  }

  /** Reads the paid total until it covers the receipt; records it either way. */
  private async confirmed(signed: SignedReceipt): Promise<boolean> {
    const r = signed.receipt;
    const polls = this.opts.confirmPolls ?? 10;
    for (let i = 0; i < polls; i++) {
      const paid = await this.opts.chain.paid(r.escrow, r.keyEpoch, r.payout);
      await this.opts.store.setClaimed(streamId(r), paid);
      if (paid >= r.amount) return true;
      if (i + 1 < polls) await this.sleep(this.opts.confirmIntervalMs ?? 2_000);
    }
    return false;
  }
}

function describe(kind: string, err: unknown): string {
  const code =
    err instanceof ClaimRefusedError && err.exitCode !== undefined ? ` (exit code ${err.exitCode})` : "";
  switch (kind) {
    case "paid":
      return "already paid on chain";
    case "underfunded":
      return `escrow cannot pay this yet${code}`;
    case "invalid":
      return `escrow refuses this receipt${code}`;
    case "too-costly":
      return `escrow too large for an external claim${code}; needs a wallet to claim`;
    default:
      return `claim failed, will retry: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200);
  }
}
