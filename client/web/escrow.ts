import { sha256 } from "@noble/hashes/sha2.js";
import { Address } from "@ton/core";
import { Buffer } from "buffer";
import { concatBytes, utf8 } from "../../protocol";
import type { Wallet } from "../../web/wallet";

/**
 * The requester's escrow as the pages see it: its address (receipts are bound to it), its
 * balance when known, and deposit/top-up/withdraw through a wallet. The Escrow contract's
 * implementation arrives with the contracts; until then the devnet escrow below stands in.
 */
export interface EscrowAccount {
  readonly address: string;
  /** Undefined when the balance cannot be read (no chain). */
  balance(): Promise<bigint | undefined>;
  /** Whether deposits and withdrawals can be made here (a chain and a contract exist). */
  readonly canTransact: boolean;
  deposit(wallet: Wallet, amount: bigint): Promise<void>;
  withdraw(wallet: Wallet): Promise<void>;
}

export class EscrowUnavailableError extends Error {
  override readonly name = "EscrowUnavailableError";
}

/**
 * Devnet without a chain: an escrow address derived from the session key, so receipts are
 * signed and bound exactly as they will be, but nothing is deposited or settled. Honest about it.
 */
export class DevnetEscrow implements EscrowAccount {
  readonly address: string;
  readonly canTransact = false;

  constructor(sessionPublicKey: Uint8Array) {
    const hash = sha256(concatBytes(utf8("silk/v1 devnet escrow"), sessionPublicKey));
    this.address = new Address(0, Buffer.from(hash)).toRawString();
  }

  async balance(): Promise<bigint | undefined> {
    return undefined;
  }

  async deposit(): Promise<void> {
    throw new EscrowUnavailableError(
      "deposits need the Escrow contract, which is not deployed on this network yet",
    );
  }

  async withdraw(): Promise<void> {
    throw new EscrowUnavailableError(
      "withdrawals need the Escrow contract, which is not deployed on this network yet",
    );
  }
}
