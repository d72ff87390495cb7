import {
  EscrowCannotPayError,
  HELD_BACK_FOR_OTHERS,
  type ProviderErrorCode,
  RESERVE_USED_UP_MESSAGE,
  reads,
  type StreamKey,
} from "../../protocol";
import { type AccountRefusedError, foreignClaimsRefusal, heldBackRefusal } from "../account-gate";
import type { EscrowBook, SessionExposure } from "../escrow-book";

/** A refusal an open session sends its requests: the code and the provider's words. */
export interface MidSessionRefusal {
  readonly code: ProviderErrorCode;
  readonly message: string;
}

/**
 * One session's share of its escrow: the most it may be owed, kept fresh without a read per
 * token. The escrow is read when the session opens (by the gate); again in the background once
 * what is owed has used half the headroom that read showed (another provider, or the owner
 * closing, may have drained it meanwhile); and once more, awaited, before refusing anything, in
 * case it was topped up. A closing escrow, or one that revoked the session's key, still pays what
 * was streamed (receipts are taken up to the limit), but nothing more is streamed on it: it is
 * claimed instead.
 */
export class EscrowLimit {
  private readonly handle: SessionExposure;
  private owed: bigint;
  private seenRead = -1;
  private rereadAt = 0n;
  private lastForcedRead = 0;

  constructor(
    private readonly book: EscrowBook,
    private readonly stream: StreamKey & { readonly amount: bigint },
    private readonly now: () => number = Date.now,
    private readonly minReadGapMs = 1_000,
  ) {
    this.owed = stream.amount;
    this.handle = book.openSession(stream, stream.amount);
  }

  /** Whether the session may be owed `amount` (cumulative on its stream). */
  async allows(amount: bigint): Promise<boolean> {
    if (this.fits(amount)) return true;
    if (this.now() - this.lastForcedRead < this.minReadGapMs) return false;
    this.lastForcedRead = this.now();
    await this.book.refresh(this.stream.escrow).catch(() => undefined);
    return this.fits(amount);
  }

  /** What the session is owed now, receipted or not. */
  owe(amount: bigint): void {
    if (amount <= this.owed) return;
    this.owed = amount;
    this.handle.owe(amount);
    this.maybeReread();
  }

  /** A receipt for `amount` was kept. */
  held(amount: bigint): void {
    this.book.held(this.stream, amount);
    this.owe(amount);
  }

  close(): void {
    this.handle.close();
  }

  /**
   * Why the escrow is served no more, as the last read shows, if so: someone else claims this
   * provider's receipts in small amounts, or its dictionary is too crowded along this stream.
   */
  get refusal(): AccountRefusedError | undefined {
    return (
      foreignClaimsRefusal(this.book.foreignSmallClaims(this.stream.escrow)) ?? this.book.crowded(this.stream)
    );
  }

  /**
   * The account refusal of a session that may not be owed `amount`: ESCROW_HELD_BACK when the
   * escrow could pay it and this provider holds it back (its other streams, its reserve rule),
   * OUT_OF_FUNDS when the escrow itself cannot.
   */
  refusalFor(amount: bigint): AccountRefusedError {
    return heldBackRefusal(this.handle.heldBack(amount));
  }

  /**
   * What an open session says when it may not be owed `amount` (a request refused, or the next
   * after an answer cut short), in words the requester can act on. When the escrow could pay it
   * and what this provider's other streams of it are owed is the cause (EscrowBook.heldBack), a
   * top-up is not what helps, another provider is: ESCROW_HELD_BACK saying so, as the account's
   * refusal at the open does, to a requester that reads the code (`knows`); any other is sent
   * ESCROW_CANNOT_PAY in the words it always read. Otherwise ESCROW_CANNOT_PAY: with reserves
   * required, what the stream's reserve does not cover is trusted only up to the credit window
   * (raise it); else the balance (top it up).
   */
  cannotPay(amount: bigint, knows: readonly string[] | undefined): MidSessionRefusal {
    if (this.handle.heldBack(amount) === "others" && reads("ESCROW_HELD_BACK", knows))
      return { code: "ESCROW_HELD_BACK", message: HELD_BACK_FOR_OTHERS };
    const e = new EscrowCannotPayError(this.book.reservesRequired ? RESERVE_USED_UP_MESSAGE : undefined);
    return { code: "ESCROW_CANNOT_PAY", message: e.message };
  }

  /**
   * Stream nothing more on this session, as the last read shows: the escrow is closing, or the
   * session's key was revoked (`keyRevoked`). Either way what was streamed is paid only until a
   * deadline, and is claimed at once (settlement-policy.ts).
   */
  get closing(): boolean {
    return this.book.view(this.stream.escrow).unlockAt !== 0 || this.keyRevoked;
  }

  /** The session's key was revoked (as last read): the escrow pays its receipts only until its grace ends. */
  get keyRevoked(): boolean {
    return this.book.keyDeadline(this.stream) !== 0;
  }

  /**
   * Before refusing a new request because the escrow is closing: read it again, since its owner
   * may have reopened it (a deposit) while this session sat idle, and a session kept open across
   * the reopen must not be refused on a stale read.
   */
  async closingNow(): Promise<boolean> {
    if (!this.closing || this.now() - this.lastForcedRead < this.minReadGapMs) return this.closing;
    this.lastForcedRead = this.now();
    await this.book.refresh(this.stream.escrow).catch(() => undefined);
    return this.closing;
  }

  private fits(amount: bigint): boolean {
    return amount <= this.handle.limit();
  }

  private maybeReread(): void {
    const readAt = this.handle.readAt();
    if (readAt !== this.seenRead) {
      this.seenRead = readAt;
      const headroom = this.handle.limit() - this.owed;
      this.rereadAt = this.owed + (headroom > 0n ? headroom / 2n : 0n);
    }
    if (this.owed >= this.rereadAt) {
      this.rereadAt = this.handle.limit() + 1n; // once per read: the next read sets a new mark
      void this.book.refresh(this.stream.escrow).catch(() => undefined);
    }
  }
}
