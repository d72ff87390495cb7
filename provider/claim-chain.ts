import type { Address, Sender } from "@ton/core";
import { exitCodeOf } from "../contracts/wrappers/exit-code";
import type { SignedReceipt } from "../protocol/receipt";

export { exitCodeOf };

/**
 * The chain as settlement sees it: what an escrow has paid a stream, and sending a claim. The
 * Escrow wrapper implements it over any provider (TonClient on devnet, testnet or mainnet, or
 * the sandbox in tests), so settlement never touches a network client itself.
 */
export interface ClaimChain {
  paid(escrow: Address, keyEpoch: number, payout: Address): Promise<bigint>;
  /** A claim as an external message: no TON needed. Throws ClaimRefusedError when refused. */
  claimExternal(signed: SignedReceipt): Promise<void>;
  /** A claim paid by the provider's own wallet; present only when one is configured. */
  claimInternal?(signed: SignedReceipt): Promise<void>;
  /** The escrow's transaction that took the confirmed claim of `signed`, and every fee it cost (when the chain can read it). */
  claimTransaction?(signed: SignedReceipt): Promise<ClaimTransaction | undefined>;
}

export interface ClaimTransaction {
  /** Gas, import and the payout message's forward fee, all taken from the claimed amount. */
  readonly fee: bigint;
  /** The transaction's hash, hex: what an explorer links by. */
  readonly hash: string;
}

export class ClaimRefusedError extends Error {
  override readonly name = "ClaimRefusedError";
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The slice of the Escrow wrapper settlement uses, opened by TonClient or the sandbox alike. */
export interface OpenedEscrow {
  getPaid(keyEpoch: number, payout: Address): Promise<bigint>;
  sendExternalClaim(signed: SignedReceipt): Promise<unknown>;
  sendClaim(via: Sender, opts: { signed: SignedReceipt; value: bigint }): Promise<unknown>;
}

export class EscrowClaimChain implements ClaimChain {
  readonly claimInternal?: (signed: SignedReceipt) => Promise<void>;

  constructor(
    private readonly open: (escrow: Address) => OpenedEscrow,
    wallet?: { sender: Sender; gasValue: bigint },
  ) {
    if (wallet) {
      this.claimInternal = async (signed) => {
        await this.open(signed.receipt.escrow).sendClaim(wallet.sender, { signed, value: wallet.gasValue });
      };
    }
  }

  paid(escrow: Address, keyEpoch: number, payout: Address): Promise<bigint> {
    return this.open(escrow).getPaid(keyEpoch, payout);
  }

  async claimExternal(signed: SignedReceipt): Promise<void> {
    try {
      await this.open(signed.receipt.escrow).sendExternalClaim(signed);
    } catch (err) {
      throw new ClaimRefusedError("claim refused", exitCodeOf(err), { cause: err });
    }
  }
}
