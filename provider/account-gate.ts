import type { Address } from "@ton/core";
import {
  type AccountRefusalCode,
  HELD_BACK_FOR_OTHERS,
  HELD_BACK_FOR_RESERVE,
  type NetworkName,
  type Receipt,
} from "../protocol";
import { RESERVED_DEPTH_PENALTY } from "./claim-fee";

/**
 * Before serving, is the requester's escrow good for what it signs? Without this check a
 * requester could sign receipts on an empty escrow and, session after session, take a credit
 * window of tokens for free; or name a contract that only answers like an Escrow, or an escrow
 * whose owner can close and withdraw before the provider has claimed. The gate reads the chain
 * once per session; the pure rules are here.
 */
export class AccountRefusedError extends Error {
  override readonly name = "AccountRefusedError";
  constructor(
    readonly code: AccountRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AccountGate {
  /** Throws AccountRefusedError with the reason the requester can act on; the facts read otherwise. */
  check(base: Receipt, sessionKey: Uint8Array): Promise<EscrowFacts>;
}

export interface EscrowFacts {
  /** Hex hash of the account's code ("" when nothing is deployed there). */
  readonly codeHash: string;
  readonly network: number;
  /** Seconds between the owner's close and withdraw: the time left to claim once it closes. */
  readonly closeDelay: number;
  /** When the owner may withdraw (unix seconds), 0 when not closing. */
  readonly unlockAt: number;
  readonly key: { epoch: number; active: boolean } | undefined;
  /**
   * What the escrow could still pay this stream: its free balance (balance above the storage
   * reserve and what all streams have reserved) plus this stream's own reserve left.
   */
  readonly available: bigint;
  /** Whether any stream has a reserve left: every claim then takes the dearer reserve-aware path. */
  readonly reserving?: boolean;
  /** What this stream was already paid. */
  readonly paid: bigint;
  /** Small claims of this provider's receipts on the escrow that were someone else's (escrow-book.ts). */
  readonly foreignSmallClaims?: number;
  /** Forks of the escrow's `paid` dictionary a claim for this stream walks (EscrowState.claimDepth). */
  readonly claimDepth?: number;
}

/** What an escrow must be before it is served. */
export interface EscrowRules {
  /** Hex hash of the Escrow code this provider knows (compiled from its own sources). */
  readonly codeHash: string;
  /** Shortest close delay accepted, in seconds: the time settlement needs once an escrow closes. */
  readonly minCloseDelay: number;
  /** What a session must be able to pay (at least one claim's worth). */
  readonly minimum: bigint;
  /**
   * The deepest a stream may sit in the `paid` dictionary (CROWDED_CLAIM_DEPTH), for a provider
   * that can only claim externally; absent when it has a wallet to claim from.
   */
  readonly maxClaimDepth?: number;
}

/**
 * Small claims of a provider's receipts by someone else (each costs the provider a fee) seen on
 * one escrow before the provider stops serving it: one may be an accident, two are a habit.
 */
export const MAX_FOREIGN_SMALL_CLAIMS = 2;

/** The refusal of an escrow whose `paid` dictionary is too crowded along this provider's stream, if so. */
export function crowdedRefusal(depth: number, max: number | undefined): AccountRefusedError | undefined {
  if (max === undefined || depth <= max) return undefined;
  return new AccountRefusedError(
    "ESCROW_CROWDED",
    `the escrow pays so many other streams that a claim for this provider's would walk ${depth} forks of its dictionary (at most ${max} served): it could not claim what it is owed`,
  );
}

/** The refusal of an escrow on which someone else claimed this provider's receipts too often, if so. */
export function foreignClaimsRefusal(count: number): AccountRefusedError | undefined {
  if (count < MAX_FOREIGN_SMALL_CLAIMS) return undefined;
  return new AccountRefusedError(
    "FOREIGN_CLAIMS",
    `this provider's receipts on the escrow were claimed by someone else in small amounts ${count} times, each at the provider's fee; it no longer serves this escrow`,
  );
}

/**
 * A session the book will not let be owed more (escrow-book.ts `heldBack`): ESCROW_HELD_BACK
 * naming why, when the escrow could pay and this provider holds it back; else the escrow's own
 * OUT_OF_FUNDS. The two are fixed otherwise: another provider, or a reserve for this one, serves
 * the first; only a top-up the second.
 */
export function heldBackRefusal(why: "reserve" | "others" | undefined): AccountRefusedError {
  if (why === undefined)
    return new AccountRefusedError("OUT_OF_FUNDS", "the escrow cannot cover more answers; top it up");
  return new AccountRefusedError(
    "ESCROW_HELD_BACK",
    why === "reserve" ? HELD_BACK_FOR_RESERVE : HELD_BACK_FOR_OTHERS,
  );
}

/**
 * The shortest close delay accepted by default: an hour on testnet and mainnet, where a claim may
 * wait for a busy endpoint; on the devnet its own setting (`ESCROW_CLOSE_DELAY`, default 60 s).
 */
export const DEFAULT_MIN_CLOSE_DELAY: Readonly<Record<NetworkName, number>> = {
  devnet: 60,
  testnet: 3_600,
  mainnet: 3_600,
};

/** The rules, on facts read from the chain. Code first: nothing else an impostor says counts. */
export function judgeEscrow(base: Receipt, facts: EscrowFacts, rules: EscrowRules): void {
  if (facts.codeHash !== rules.codeHash)
    throw new AccountRefusedError(
      "ESCROW_CODE",
      "the account named as the escrow does not run Silk's Escrow code",
    );
  // The Escrow prices a claim's gas and import fee at basechain rates, and its balance pays the
  // rest: in another workchain (the masterchain, many times dearer) an accepted claim can leave
  // too little to send the payout, its paid total committed all the same. The address says it.
  if (base.escrow.workChain !== 0)
    throw new AccountRefusedError(
      "ESCROW_CODE",
      `the escrow is in workchain ${base.escrow.workChain}: Silk's Escrow pays claims only in the basechain (0), where its fees are priced`,
    );
  if (facts.network !== base.network)
    throw new AccountRefusedError("ESCROW_NETWORK", "the escrow is on another network");
  if (facts.closeDelay < rules.minCloseDelay) {
    throw new AccountRefusedError(
      "ESCROW_CLOSE_DELAY",
      `the escrow's close delay is ${facts.closeDelay} s; this provider needs at least ${rules.minCloseDelay} s to claim`,
    );
  }
  if (facts.unlockAt !== 0)
    throw new AccountRefusedError("ESCROW_CLOSING", "the escrow is closing; top it up and reopen it");
  if (!facts.key?.active)
    throw new AccountRefusedError("KEY_NOT_AUTHORISED", "the session key is not authorised in the escrow");
  if (facts.key.epoch !== base.keyEpoch) {
    throw new AccountRefusedError("KEY_EPOCH", `receipts must carry the key's epoch ${facts.key.epoch}`);
  }
  const foreign = foreignClaimsRefusal(facts.foreignSmallClaims ?? 0);
  if (foreign) throw foreign;
  const max = rules.maxClaimDepth;
  const crowded = crowdedRefusal(
    facts.claimDepth ?? 0,
    max !== undefined && facts.reserving ? Math.max(0, max - RESERVED_DEPTH_PENALTY) : max,
  );
  if (crowded) throw crowded;
  const unpaid = base.amount > facts.paid ? base.amount - facts.paid : 0n;
  if (facts.available - unpaid < rules.minimum) {
    throw new AccountRefusedError("OUT_OF_FUNDS", "the escrow cannot cover more answers; top it up");
  }
}

export type EscrowReader = (escrow: Address, base: Receipt, sessionKey: Uint8Array) => Promise<EscrowFacts>;

export function accountGate(read: EscrowReader, rules: EscrowRules): AccountGate {
  return {
    async check(base, sessionKey) {
      let facts: EscrowFacts;
      try {
        facts = await read(base.escrow, base, sessionKey);
      } catch (err) {
        throw new AccountRefusedError(
          "ESCROW_UNREACHABLE",
          `could not read the escrow: ${err instanceof Error ? err.message.slice(0, 120) : "error"}`,
        );
      }
      judgeEscrow(base, facts, rules);
      return facts;
    },
  };
}
