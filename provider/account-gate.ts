import type { Address } from "@ton/core";
import type { AccountRefusalCode, Receipt } from "../protocol";

/**
 * Before serving, is the requester's escrow good for what it signs? Without this check a
 * requester could sign receipts on an empty escrow and, session after session, take a credit
 * window of tokens for free. The gate reads the chain; the pure rules are here.
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
  /** Throws AccountRefusedError with the reason the requester can act on. */
  check(base: Receipt, sessionKey: Uint8Array): Promise<void>;
}

export interface EscrowFacts {
  readonly network: number;
  readonly closing: boolean;
  readonly key: { epoch: number; active: boolean } | undefined;
  /** What the escrow could still pay out: balance above its storage reserve. */
  readonly available: bigint;
  /** What this stream was already paid. */
  readonly paid: bigint;
}

/** The rules, on facts read from the chain. `minimum` is what a session must be able to pay. */
export function judgeEscrow(base: Receipt, facts: EscrowFacts, minimum: bigint): void {
  if (facts.network !== base.network)
    throw new AccountRefusedError("ESCROW_NETWORK", "the escrow is on another network");
  if (facts.closing)
    throw new AccountRefusedError("ESCROW_CLOSING", "the escrow is closing; top it up and reopen it");
  if (!facts.key?.active)
    throw new AccountRefusedError("KEY_NOT_AUTHORISED", "the session key is not authorised in the escrow");
  if (facts.key.epoch !== base.keyEpoch) {
    throw new AccountRefusedError("KEY_EPOCH", `receipts must carry the key's epoch ${facts.key.epoch}`);
  }
  const unpaid = base.amount > facts.paid ? base.amount - facts.paid : 0n;
  if (facts.available - unpaid < minimum) {
    throw new AccountRefusedError("OUT_OF_FUNDS", "the escrow cannot cover more answers; top it up");
  }
}

export type EscrowReader = (escrow: Address, base: Receipt, sessionKey: Uint8Array) => Promise<EscrowFacts>;

export function accountGate(read: EscrowReader, minimum: bigint): AccountGate {
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
      judgeEscrow(base, facts, minimum);
    },
  };
}
