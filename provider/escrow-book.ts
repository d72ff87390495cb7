import type { Address } from "@ton/core";
import { EscrowParams } from "../contracts/generated/constants";
import { type StreamKey, streamId } from "../protocol";
import { type AccountRefusedError, crowdedRefusal } from "./account-gate";
import { type ClaimPath, claimPath, RESERVED_DEPTH_PENALTY } from "./claim-fee";
import { availableOf, type EscrowAccount } from "./escrow-account";

/**
 * What this provider knows of each escrow it is owed by, so that it is never owed more than an
 * escrow can pay: the balance and every stream's paid total from the last read (always together:
 * one account read gives both), what each of its streams is owed (the best receipt held, or more
 * while a session streams on credit), and whether the escrow is closing.
 *
 * An escrow's headroom is what it can pay less everything this provider's streams are owed and
 * not yet paid. A stream may be owed at most its paid total plus the escrow's available balance
 * less what its other streams are owed: `limit`. Claims lower the balance and raise a paid total
 * by the same amount, so `paidChanged` moves both and the headroom stays right between reads.
 *
 * Reserves (contracts/README.md, "Reserves"): a stream's reserve left (reserved - paid) is money
 * no other stream's claim can take, and the escrow's free balance (available - locked) is what
 * every stream's claims share, first come, first served. So a stream may be owed its paid total,
 * its reserve left, and what is free less what this provider's other streams are owed beyond
 * their own reserves. With no reserves that is the old rule. A requester using several providers
 * can sign each of them up to the free balance: only a reserve is safe from the others' claims.
 * With `unreserved` set, the book trusts the free balance for no more than that per stream (the
 * credit window's worth), so what this provider is owed beyond its reserves stays within it.
 *
 * A paid total that rises past what this provider claimed (and past any claim of its own still in
 * flight) was raised by someone else's claim of its receipts. Anyone holding a receipt may claim
 * it, and each claim's fee comes out of the provider's payout: a requester claiming every small
 * receipt it signs makes the provider pay a fee per 0.01 TON. Such rises below `smallClaim` are
 * counted per escrow (`foreignSmallClaims`), so the provider can stop serving that escrow. Each
 * one is told to `onForeignClaim`, which keeps it with the stream's receipts (a claim record,
 * `FOREIGN_CLAIM_REASON`), and `rememberForeignClaims` gives the count back after a restart: a
 * griefer does not get its allowance again each time the provider restarts or its page reloads.
 */
interface StreamEntry {
  readonly key: StreamKey;
  paid: bigint;
  /** The most this stream is owed: the best receipt held. */
  held: bigint;
  /** It holds the escrow's hot slot (its next claim is the cheapest). */
  hot: boolean;
  /** Unix time after which the escrow refuses this stream's receipts (its key was revoked); 0 if never. */
  keyDeadline: number;
  /** Its paid total has been read (or claimed) at least once: a later rise can be told apart. */
  known: boolean;
  /** The amount of a claim of ours sent and not yet settled: a rise up to it is ours. */
  claiming: bigint;
  /** Forks of the escrow's `paid` dictionary a claim for it walks, as last read (0: hot or unread). */
  depth: number;
  /** Its cumulative reserve, as last read: reserved - paid of it no other stream can take. */
  reserved: bigint;
}

interface EscrowEntry {
  available: bigint;
  /** What all streams (anyone's) have reserved and not been paid: not free for this provider's other streams. */
  locked: bigint;
  unlockAt: number;
  closeDelay: number;
  /** When it was last read (ms), 0 before the first read. */
  readAt: number;
  everClaimed: boolean;
  paidEntries: number;
  /** Rises of a stream's paid total below `smallClaim` that no claim of ours explains. */
  foreignSmallClaims: number;
  readonly streams: Map<string, StreamEntry>;
  /** Live sessions: what each is owed now, by stream. */
  readonly live: Map<symbol, { stream: string; owed: bigint }>;
}

export interface EscrowView {
  readonly escrow: string;
  readonly available: bigint;
  /** What this provider's streams on it are owed and not yet paid. */
  readonly owed: bigint;
  readonly unlockAt: number;
  readonly closeDelay: number;
  readonly readAt: number;
}

export type EscrowRead = (escrow: Address) => Promise<EscrowAccount>;

/**
 * A claim by someone else smaller than this counts as fee griefing: its fee (about 0.0034 TON)
 * would be more than 3% of it, where this provider's own policy waits for 1%.
 */
export const SMALL_FOREIGN_CLAIM = 100_000_000n;

export class EscrowBook {
  private readonly escrows = new Map<string, EscrowEntry>();
  private readonly reading = new Map<string, Promise<void>>();
  /** What the free balance is trusted for per stream beyond its reserve; undefined: all of it. */
  private unreserved: bigint | undefined;

  constructor(
    private readonly read?: EscrowRead,
    private readonly now: () => number = Date.now,
    private readonly limits: {
      /** Someone else's claim smaller than this counts as fee griefing (SMALL_FOREIGN_CLAIM). */
      readonly smallClaim?: bigint;
      /** How deep a stream may sit in an escrow's dictionary (account-gate.ts); absent: no limit. */
      readonly maxClaimDepth?: number;
      /**
       * The most a stream may be owed beyond its reserve (nanoTON): a fixed amount, or "auto" (what
       * connectTon uses by default) for the largest `trustUnreservedAtLeast` the serving loop
       * asked for, a prompt's bound and a credit window at its prices. Absent: the whole free
       * balance, which other providers' claims may take first.
       */
      readonly unreserved?: bigint | "auto";
      /** Told each small rise counted as someone else's claim: `amount` more, `paid` in all. */
      readonly onForeignClaim?: (stream: StreamKey, amount: bigint, paid: bigint) => void;
    } = {},
  ) {
    this.unreserved = limits.unreserved === "auto" ? 0n : limits.unreserved;
  }

  /**
   * With `unreserved: "auto"`: trust at least `nano` of the free balance per stream, so a single
   * request (its prompt's bound and one window) starts before its reserve is raised or seen.
   */
  trustUnreservedAtLeast(nano: bigint): void {
    if (this.limits.unreserved === "auto" && this.unreserved !== undefined && nano > this.unreserved)
      this.unreserved = nano;
  }

  /** Counts, from what was persisted before a restart, `count` foreign small claims on the escrow at least. */
  rememberForeignClaims(escrow: Address, count: number): void {
    const e = this.entry(escrow);
    if (count > e.foreignSmallClaims) e.foreignSmallClaims = count;
  }

  /** Takes a fresh read of the escrow (what the gate read at a session's open, or `refresh`). */
  update(escrow: Address, account: EscrowAccount): void {
    const e = this.entry(escrow);
    e.available = availableOf(account.balance);
    e.locked = account.state?.locked ?? 0n;
    e.unlockAt = account.state?.unlockAt ?? 0;
    e.closeDelay = account.state?.closeDelay ?? 0;
    e.readAt = this.now();
    e.everClaimed = account.state?.everClaimed ?? false;
    e.paidEntries = account.state?.paidEntries ?? 0;
    for (const s of e.streams.values()) {
      this.observe(e, s, account.state?.paidOf(s.key.keyEpoch, s.key.payout) ?? 0n);
      s.hot = account.state?.isHot(s.key.keyEpoch, s.key.payout) ?? false;
      s.reserved = account.state?.reservedOf(s.key.keyEpoch, s.key.payout) ?? 0n;
      s.depth = account.state?.claimDepth(s.key.keyEpoch, s.key.payout) ?? 0;
      s.keyDeadline = keyDeadlineOf(account, s.key.keyEpoch);
    }
  }

  /** Starts tracking a stream (before `update`, so the read fills its paid total). */
  track(stream: StreamKey): void {
    this.stream(stream);
  }

  /**
   * Our claim on `stream` went through. The escrow's first claim takes the hot slot; otherwise only
   * a newer key epoch than the hot stream's would, which the next read shows.
   */
  claimed(stream: StreamKey): void {
    const e = this.entry(stream.escrow);
    if (!e.everClaimed) this.stream(stream).hot = true;
    e.everClaimed = true;
  }

  /**
   * Which claim path a stream's next claim takes and how many entries its dictionary walk meets,
   * as far as the last read shows (unread: the dearest path, over a dictionary of 8).
   */
  claimPathOf(stream: StreamKey): { path: ClaimPath; dictionaryEntries: number; reserved: boolean } {
    const e = this.entry(stream.escrow);
    const s = this.stream(stream);
    if (e.readAt === 0) return { path: "cold", dictionaryEntries: 8, reserved: true };
    const path = claimPath({ hot: s.hot, escrowEverClaimed: e.everClaimed, claimedBefore: s.paid > 0n });
    return { path, dictionaryEntries: e.paidEntries, reserved: e.locked > 0n };
  }

  /** Reads the escrow again (one read, shared by everyone asking while it runs). */
  refresh(escrow: Address): Promise<void> {
    const read = this.read;
    if (!read) return Promise.resolve();
    const id = escrow.toRawString();
    const running = this.reading.get(id);
    if (running) return running;
    const next = read(escrow)
      .then((account) => this.update(escrow, account))
      .finally(() => this.reading.delete(id));
    this.reading.set(id, next);
    return next;
  }

  /** Records the best receipt held on a stream (never lowers it). */
  held(stream: StreamKey, amount: bigint): void {
    const s = this.stream(stream);
    if (amount > s.held) s.held = amount;
  }

  /** Records what the escrow has now paid a stream after a claim of ours: its balance went down by the same. */
  paidChanged(stream: StreamKey, paid: bigint): void {
    const e = this.entry(stream.escrow);
    const s = this.stream(stream);
    s.known = true;
    if (paid <= s.paid) return;
    spend(e, s, paid);
  }

  /**
   * Records a stream's paid total as read from the chain, not as our own claim's result: a rise
   * beyond what we know and any claim of ours in flight was someone else's claim.
   */
  paidRead(stream: StreamKey, paid: bigint): void {
    const e = this.entry(stream.escrow);
    const s = this.stream(stream);
    const before = s.paid;
    this.observe(e, s, paid);
    if (s.paid > before) {
      const now = s.paid;
      s.paid = before;
      spend(e, s, now);
    }
  }

  /** A claim of ours for `amount` on `stream` is about to be sent (`claimSettled` once it is over). */
  claiming(stream: StreamKey, amount: bigint): void {
    this.stream(stream).claiming = amount;
  }

  claimSettled(stream: StreamKey): void {
    this.stream(stream).claiming = 0n;
  }

  /** Forks of the escrow's `paid` dictionary a claim for `stream` walks, as last read. */
  claimDepth(stream: StreamKey): number {
    return this.escrows.get(stream.escrow.toRawString())?.streams.get(streamId(stream))?.depth ?? 0;
  }

  /** The stream sits as deep as is served: what it holds is claimed at once (settlement-policy.ts). */
  crowding(stream: StreamKey): boolean {
    const max = this.maxDepth(stream);
    return max !== undefined && this.claimDepth(stream) >= max;
  }

  /** The refusal of more on `stream` because its escrow's dictionary is too crowded along it, if so. */
  crowded(stream: StreamKey): AccountRefusedError | undefined {
    return crowdedRefusal(this.claimDepth(stream), this.maxDepth(stream));
  }

  /** The deepest served: less while the escrow holds a reserve (a dearer claim path). */
  private maxDepth(stream: StreamKey): number | undefined {
    const max = this.limits.maxClaimDepth;
    if (max === undefined) return undefined;
    const locked = this.escrows.get(stream.escrow.toRawString())?.locked ?? 0n;
    return locked > 0n ? Math.max(0, max - RESERVED_DEPTH_PENALTY) : max;
  }

  /** How many small claims of this provider's receipts on the escrow were someone else's. */
  foreignSmallClaims(escrow: Address): number {
    return this.escrows.get(escrow.toRawString())?.foreignSmallClaims ?? 0;
  }

  /**
   * The most `stream` may be owed, cumulative: its paid total, its reserve left, and the free
   * balance less what this provider's other streams are owed beyond their reserves (capped at
   * `unreserved` when set).
   */
  limit(stream: StreamKey, except?: symbol): bigint {
    const e = this.entry(stream.escrow);
    const id = streamId(stream);
    const own = this.stream(stream);
    let others = 0n;
    for (const [sid, s] of e.streams)
      if (sid !== id) others += unpaid(unpaid(this.owedOn(e, sid, s, except), s.paid), reserveLeft(s));
    const fromFree = e.available - e.locked - others;
    const trust = this.unreserved;
    return own.paid + reserveLeft(own) + (trust !== undefined && trust < fromFree ? trust : fromFree);
  }

  /**
   * Why `stream` may not be owed `amount` when the escrow itself could pay it (what its free
   * balance and the stream's own paid total and reserve come to): this provider holds it back,
   * for the `reserve` it requires beyond `unreserved`, or for what its `others` streams are owed.
   * Undefined when the escrow itself cannot pay `amount` (or it fits).
   */
  heldBack(stream: StreamKey, amount: bigint, except?: symbol): "reserve" | "others" | undefined {
    const e = this.entry(stream.escrow);
    const own = this.stream(stream);
    const escrowCould = own.paid + reserveLeft(own) + (e.available - e.locked);
    if (amount <= this.limit(stream, except) || amount > escrowCould) return undefined;
    const trust = this.unreserved;
    return trust !== undefined && own.paid + reserveLeft(own) + trust < amount ? "reserve" : "others";
  }

  /**
   * Whether `stream` is owed half or more of what the free balance is trusted for beyond its
   * reserve (strict reserves only): claimed now, the trust is whole again before its requester,
   * raising no reserve, is refused for want of it.
   */
  trustSpent(stream: StreamKey): boolean {
    const trust = this.unreserved;
    const e = this.escrows.get(stream.escrow.toRawString());
    const id = streamId(stream);
    const s = e?.streams.get(id);
    if (trust === undefined || trust === 0n || !e || !s) return false;
    return unpaid(unpaid(this.owedOn(e, id, s), s.paid), reserveLeft(s)) * 2n >= trust;
  }

  /** Whether the book trusts the free balance only up to `unreserved` (strict reserves). */
  get reservesRequired(): boolean {
    return this.unreserved !== undefined;
  }

  /** Registers a live session on a stream; returns its handle. */
  openSession(stream: StreamKey, owed: bigint): SessionExposure {
    const e = this.entry(stream.escrow);
    this.stream(stream);
    const token = Symbol("session");
    e.live.set(token, { stream: streamId(stream), owed });
    return {
      owe: (amount) => {
        const l = e.live.get(token);
        if (l && amount > l.owed) l.owed = amount;
      },
      limit: () => this.limit(stream, token),
      heldBack: (amount) => this.heldBack(stream, amount, token),
      readAt: () => e.readAt,
      // What was streamed and never receipted is lost with the session: it no longer counts.
      close: () => e.live.delete(token),
    };
  }

  /**
   * When the escrow stops paying this stream because its key was revoked (unix seconds), as the
   * last read shows; 0 while the key is active. Like a closing escrow, a deadline to claim by.
   */
  keyDeadline(stream: StreamKey): number {
    return this.escrows.get(stream.escrow.toRawString())?.streams.get(streamId(stream))?.keyDeadline ?? 0;
  }

  view(escrow: Address): EscrowView {
    const e = this.entry(escrow);
    let owed = 0n;
    for (const [sid, s] of e.streams) owed += unpaid(this.owedOn(e, sid, s), s.paid);
    return {
      escrow: escrow.toRawString(),
      available: e.available,
      owed,
      unlockAt: e.unlockAt,
      closeDelay: e.closeDelay,
      readAt: e.readAt,
    };
  }

  /** Every escrow with something owed and unpaid (the ones worth watching). */
  owing(): Address[] {
    const out: Address[] = [];
    for (const e of this.escrows.values()) {
      const first = e.streams.values().next().value;
      if (first && this.view(first.key.escrow).owed > 0n) out.push(first.key.escrow);
    }
    return out;
  }

  /** A stream's owed amount: the best held receipt or any live session's count, whichever is more. */
  private owedOn(e: EscrowEntry, sid: string, s: StreamEntry, except?: symbol): bigint {
    let owed = s.held;
    for (const [token, l] of e.live) if (token !== except && l.stream === sid && l.owed > owed) owed = l.owed;
    return owed;
  }

  private observe(e: EscrowEntry, s: StreamEntry, paid: bigint): void {
    let ours = s.paid;
    if (s.claiming > ours) ours = s.claiming; // bigints: no Math.max
    if (s.known && paid > ours && paid - ours < (this.limits.smallClaim ?? SMALL_FOREIGN_CLAIM)) {
      e.foreignSmallClaims++;
      this.limits.onForeignClaim?.(s.key, paid - ours, paid);
    }
    s.known = true;
    s.paid = paid;
  }

  private entry(escrow: Address): EscrowEntry {
    const id = escrow.toRawString();
    let e = this.escrows.get(id);
    if (!e) {
      e = {
        available: 0n,
        locked: 0n,
        unlockAt: 0,
        closeDelay: 0,
        readAt: 0,
        everClaimed: false,
        paidEntries: 0,
        foreignSmallClaims: 0,
        streams: new Map(),
        live: new Map(),
      };
      this.escrows.set(id, e);
    }
    return e;
  }

  private stream(key: StreamKey): StreamEntry {
    const e = this.entry(key.escrow);
    const id = streamId(key);
    let s = e.streams.get(id);
    if (!s) {
      s = {
        key,
        paid: 0n,
        held: 0n,
        hot: false,
        keyDeadline: 0,
        known: false,
        claiming: 0n,
        depth: 0,
        reserved: 0n,
      };
      e.streams.set(id, s);
    }
    return s;
  }
}

export interface SessionExposure {
  /** What the session is owed now, cumulative on its stream (only ever raised). */
  owe(amount: bigint): void;
  /** The most it may be owed now. */
  limit(): bigint;
  /** Why it may not be owed `amount` though the escrow could pay it (EscrowBook.heldBack). */
  heldBack(amount: bigint): "reserve" | "others" | undefined;
  /** When the escrow was last read (ms). */
  readAt(): number;
  close(): void;
}

/**
 * When the escrow stops paying a key epoch's receipts (unix seconds): 0 while its key is active,
 * the end of its grace once revoked. No key holding the epoch (read from a whole state) means the
 * key was added again after its grace, under a new epoch: its old receipts are refused already
 * (WrongEpoch), so the deadline is long past (1).
 */
function keyDeadlineOf(account: EscrowAccount, epoch: number): number {
  if (!account.state) return 0;
  for (const k of account.state.keys.values())
    if (k.epoch === epoch) return BigInt(k.validUntil) === EscrowParams.KEY_ACTIVE ? 0 : k.validUntil;
  return 1;
}

function unpaid(owed: bigint, paid: bigint): bigint {
  return owed > paid ? owed - paid : 0n;
}

function reserveLeft(s: StreamEntry): bigint {
  return unpaid(s.reserved, s.paid);
}

/**
 * The stream's paid total rose to `paid` (a claim): the balance went down by the same, and the
 * escrow's locked total by the part its reserve covered (the contract pays from the reserve first).
 */
function spend(e: EscrowEntry, s: StreamEntry, paid: bigint): void {
  const delta = paid - s.paid;
  const left = reserveLeft(s);
  e.locked -= unpaid(delta, unpaid(delta, left)); // the smaller of the two (bigints: no Math.min)
  if (e.locked < 0n) e.locked = 0n;
  e.available -= delta;
  if (e.available < 0n) e.available = 0n;
  s.paid = paid;
}
