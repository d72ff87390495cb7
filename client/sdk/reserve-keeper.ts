import type { Address, ContractProvider } from "@ton/core";
import { EscrowError } from "../../contracts/generated/constants";
import { chainClock } from "../../contracts/wrappers/chain-clock";
import { Escrow } from "../../contracts/wrappers/escrow";
import { exitCodeOf } from "../../contracts/wrappers/exit-code";
import { DEFAULT_CREDIT_WINDOW_TOKENS } from "../../protocol/limits";
import type { StreamKey } from "../../protocol/receipt";
import { type SignedReserve, signReserve } from "../../protocol/reserve";
import { ReserveNotSeenError } from "./errors";

export { ReserveNotSeenError };

/**
 * Keeps a provider's stream reserved ahead of what the requester signs (contracts/README.md,
 * "Reserves"): a provider that requires reserves serves a stream only its reserve plus one
 * trusted window, and a reserve is what no other provider's claim can take. Each raise is signed
 * by the session key (no wallet prompt), sent to the escrow as an external message, and must be
 * seen on chain within a deadline; when it is not, the requests that need it fail with
 * `ReserveNotSeenError` rather than waiting on a provider that will not serve them.
 */
export interface ReserveChain {
  /**
   * Sends the signed raise to the escrow (an external message); rejects when the chain refuses it,
   * with an error whose `exitCode` (or message, "exit code N") names the escrow's refusal.
   */
  send(signed: SignedReserve): Promise<void>;
  /** The stream's cumulative reserve as the chain shows it now. */
  reserved(stream: StreamKey): Promise<bigint>;
  /** The escrow's close delay, seconds: a raise must be valid for less (read once per keeper). */
  closeDelay?(escrow: Address): Promise<number>;
  /**
   * The chain's clock, Unix seconds (`chainClock`): raises are dated by it rather than this
   * machine's clock, which may be minutes off (read once per keeper; its offset is kept).
   */
  clock?(escrow: Address): Promise<number>;
}

export interface ReserveOptions {
  readonly chain: ReserveChain;
  /**
   * How far ahead of what is signed the reserve is kept, nanoTON: at least a prompt's bound at
   * the provider's price plus the window it trusts. Each raise goes `2 x ahead` past what is
   * signed, so one raise covers several receipts.
   */
  readonly ahead: bigint;
  /** How long a raise may take to be seen on chain (default 30 s). */
  readonly deadlineMs?: number;
  /**
   * How long a raise stays valid, seconds: the escrow refuses one valid for its close delay or
   * more. Default: 50 s (under the shortest close delay providers serve, 60 s on the devnet), or
   * half the escrow's close delay when the chain tells it (`closeDelay`) and that is shorter, so a
   * chain clock a few seconds behind this one still takes it.
   */
  readonly validForS?: number;
  /** How old a read of the reserve may be when a new request starts before it is read again (default 10 s). */
  readonly recheckMs?: number;
  /** How often the chain is read while a raise is awaited (default 500 ms). */
  readonly pollMs?: number;
  /** How long the chain's clock may take to be read (`clock`) before a raise is dated without it (default 10 s). */
  readonly clockMs?: number;
  /** This machine's clock, Unix seconds (tests move it); default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The least a reserve is kept ahead of what is owed by default (0.1 TON): a raise costs the escrow
 * about 0.0035 TON in fees (contracts/README.md), under 4% of the step.
 */
export const RESERVE_STEP = 100_000_000n;

/**
 * How far ahead a reserve is kept when nobody says (`connect`'s default, the gateway's, the web
 * client's): a credit window at the highest completion price accepted, and at least RESERVE_STEP.
 * What each open answer's prompt may cost at its bound is counted on top (`ensure`).
 */
export function defaultReserveAhead(maxCompletionNanoPerToken: bigint): bigint {
  const window = maxCompletionNanoPerToken * BigInt(DEFAULT_CREDIT_WINDOW_TOKENS);
  return window > RESERVE_STEP ? window : RESERVE_STEP;
}

/** How long the chain's clock may take to be read by default, ms (`clockMs`). */
const CLOCK_READ_MS = 10_000;

/** How long a raise stays valid by default, seconds (`validForS`). */
const DEFAULT_VALID_FOR_S = 50;

/**
 * How long a raise stays valid on an escrow closing in `closeDelayS` seconds: half that delay, at
 * most 50 s and at least 1 s. The escrow refuses a raise valid for its close delay or more (exit
 * 219); half leaves room for a chain clock a little behind the one that dated it. The one rule for
 * the keeper (reading the delay from chain) and the web client (from its page config).
 */
export function raiseValidForS(closeDelayS: number): number {
  return Math.max(1, Math.min(DEFAULT_VALID_FOR_S, Math.floor(closeDelayS / 2)));
}

export class ReserveKeeper {
  /** The reserve last seen on chain (the highest since it was last read). */
  private seen = 0n;
  /** When the chain's reserve was last read (ms). */
  private readAt = 0;
  /** How long a raise stays valid (seconds), once known. */
  private validFor: Promise<number> | undefined;
  /** The chain's clock less this machine's (seconds), once read. */
  private skew: Promise<number> | undefined;
  /** The raise under way: its target and its outcome. */
  private raising: { target: bigint; done: Promise<void> } | undefined;

  private readonly stream: StreamKey;

  constructor(
    stream: StreamKey,
    private readonly sessionKey: { publicKey: Uint8Array; secretKey: Uint8Array },
    private readonly o: ReserveOptions,
  ) {
    this.stream = {
      network: stream.network,
      escrow: stream.escrow,
      payout: stream.payout,
      keyEpoch: stream.keyEpoch,
    };
  }

  /** The highest reserve seen on chain so far. */
  get reserved(): bigint {
    return this.seen;
  }

  /**
   * Resolves once the chain shows a reserve of at least `signed + ahead`; raises it (to
   * `signed + 2 x ahead`, or `signed + ahead` when the escrow refuses that as unfunded) unless a raise
   * that covers it is under way. With `recheck` (a new request), a reserve last read more than
   * `recheckMs` ago is read again first: a withdraw ends every reserve, and an escrow reopened
   * after it holds none, whatever was seen before.
   */
  ensure(signed: bigint, recheck = false): Promise<void> {
    const want = signed + this.o.ahead;
    const stale = recheck && Date.now() - this.readAt >= (this.o.recheckMs ?? 10_000);
    if (this.seen >= want && !stale) return Promise.resolve();
    if (this.raising && this.raising.target >= want) return this.raising.done;
    const target = signed + 2n * this.o.ahead;
    const done = this.raise(want, target).finally(() => {
      if (this.raising?.done === done) this.raising = undefined;
    });
    this.raising = { target, done };
    return done;
  }

  private async raise(want: bigint, target: bigint): Promise<void> {
    // Another session (or a restart) may have raised it already: a raise not above it is refused.
    // The chain's word is taken even when lower than what was seen: a withdraw ended it.
    const current = await this.o.chain.reserved(this.stream).catch(() => undefined);
    if (current !== undefined) {
      this.seen = current;
      this.readAt = Date.now();
    }
    if (this.seen >= want) return;
    const validFor = await this.validForS();
    const local = () => this.o.now?.() ?? Math.floor(Date.now() / 1000);
    const skew = await this.chainSkew(local);
    const now = local() + (typeof skew === "number" ? skew : 0);
    const deadline = Date.now() + (this.o.deadlineMs ?? 30_000);
    const payout = this.stream.payout.toString();
    const validUntil = now + validFor;
    const send = (reserved: bigint) =>
      this.o.chain.send(signReserve({ ...this.stream, validUntil, reserved }, this.sessionKey));
    // The escrow refuses a raise its free balance cannot fund (ReserveUnfunded): a small escrow
    // still gets what this request needs (`want`), raised more often. Any other failure (another
    // refusal, the network) would fail the smaller raise alike: it is told at once.
    let asked = target;
    try {
      await send(target).catch((err: unknown) => {
        if (want >= target || exitCodeOf(err) !== EscrowError.ReserveUnfunded) throw err;
        asked = want;
        return send(want);
      });
    } catch (err) {
      throw notRaised(asked, payout, err, {
        validUntil,
        validFor,
        ...(typeof skew !== "number" && { unchecked: skew.unchecked }),
      });
    }
    for (;;) {
      const reserved = await this.o.chain.reserved(this.stream).catch(() => this.seen);
      if (reserved > this.seen) this.seen = reserved;
      this.readAt = Date.now();
      if (this.seen >= asked) return;
      if (Date.now() >= deadline) {
        throw new ReserveNotSeenError(
          "not-seen",
          asked,
          `the reserve of ${asked} nanoTON for ${payout} was not seen on chain within ${this.o.deadlineMs ?? 30_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 500));
    }
  }

  /**
   * How far the chain's clock is ahead of this machine's, read once; when the chain cannot tell
   * (no `clock`, a failed read, none within `clockMs`), why not: the raise is then dated by this
   * machine's clock, and the read is asked again at the next raise.
   */
  private async chainSkew(local: () => number): Promise<number | { unchecked: string }> {
    const clock = this.o.chain.clock;
    if (!clock) return { unchecked: "the chain offers no clock" };
    const ms = this.o.clockMs ?? CLOCK_READ_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.skew ??= Promise.race([
      clock(this.stream.escrow).then((chainNow) => chainNow - local()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
    try {
      return await this.skew;
    } catch (err) {
      this.skew = undefined;
      return { unchecked: `reading it failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  /**
   * `validForS` as given; else the default, shortened to half the escrow's close delay when the
   * chain tells it (read once; a failed read is asked again at the next raise).
   */
  private validForS(): Promise<number> {
    if (this.o.validForS !== undefined) return Promise.resolve(this.o.validForS);
    if (!this.o.chain.closeDelay) return Promise.resolve(DEFAULT_VALID_FOR_S);
    this.validFor ??= this.o.chain.closeDelay(this.stream.escrow).then(raiseValidForS, (err: unknown) => {
      this.validFor = undefined;
      throw err;
    });
    return this.validFor.catch(() => DEFAULT_VALID_FOR_S);
  }
}

/**
 * Why a raise to `asked` failed to send, typed: `refused` when the escrow's free balance cannot
 * fund it (the fix is a top-up), `not-sent` for any other refusal (its exit code named) or a
 * network that would not take the message. A raise refused as expired, or valid for too long, was
 * dated by this machine's clock (`dated`): a few seconds off are absorbed by `validForS`, so the
 * likely cause is that clock, which the message says with the date it gave; `clock` when the
 * chain's clock could not be checked (`dated.unchecked` says why), so it dated the raise.
 */
function notRaised(
  asked: bigint,
  payout: string,
  err: unknown,
  dated: { validUntil: number; validFor: number; unchecked?: string },
): ReserveNotSeenError {
  const exit = exitCodeOf(err);
  if (exit === EscrowError.ReserveExpired && dated.unchecked !== undefined)
    return new ReserveNotSeenError(
      "clock",
      asked,
      `the escrow refused to reserve ${asked} nanoTON for ${payout} (exit code ${exit}) as expired or valid too long, and the chain's clock could not be checked (${dated.unchecked}): the raise was dated by this machine's clock, valid for ${dated.validFor} s until ${new Date(dated.validUntil * 1000).toISOString()}, which is likely off from the chain's; set it right, or retry once the chain's endpoint answers`,
      err,
    );
  if (exit === EscrowError.ReserveExpired)
    return new ReserveNotSeenError(
      "not-sent",
      asked,
      `the escrow refused to reserve ${asked} nanoTON for ${payout} (exit code ${exit}): refused as expired or valid too long, the raise was dated by this machine's clock, valid for ${dated.validFor} s until ${new Date(dated.validUntil * 1000).toISOString()}, and the escrow takes one only from the chain's now until its close delay ahead; this machine's clock is likely off from the chain's, set it right`,
      err,
    );
  if (exit === EscrowError.ReserveUnfunded)
    return new ReserveNotSeenError(
      "refused",
      asked,
      `the escrow refused to reserve ${asked} nanoTON for ${payout}: its free balance cannot fund it (top it up, or ask for less)`,
      err,
    );
  return new ReserveNotSeenError(
    "not-sent",
    asked,
    exit === undefined
      ? `the raise of the reserve to ${asked} nanoTON for ${payout} could not be sent (the network would not take it)`
      : `the escrow refused to reserve ${asked} nanoTON for ${payout} (exit code ${exit})`,
    err,
  );
}

/**
 * The chain through a TonClient (or anything with its `provider` and `getContractState`): the
 * escrow as its wrapper sees it, and the chain's clock, so raises are dated by it.
 */
export function tonReserveChain(client: {
  provider(address: Address): ContractProvider;
  getContractState(address: Address): Promise<{ timestampt: number }>;
}): ReserveChain {
  return { ...escrowReserveChain((a) => client.provider(a)), clock: (escrow) => chainClock(client, escrow) };
}

/** The chain as an Escrow wrapper sees it through any ContractProvider (TonClient's `provider`). */
export function escrowReserveChain(provider: (address: Address) => ContractProvider): ReserveChain {
  return {
    send: (signed) =>
      Escrow.createFromAddress(signed.reserve.escrow).sendReserve(provider(signed.reserve.escrow), signed),
    reserved: async (stream) =>
      (
        await Escrow.createFromAddress(stream.escrow).getReserve(
          provider(stream.escrow),
          stream.keyEpoch,
          stream.payout,
        )
      ).reserved,
    closeDelay: async (escrow) =>
      (await Escrow.createFromAddress(escrow).getEscrowData(provider(escrow))).closeDelay,
  };
}
