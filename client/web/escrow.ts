import { type Address, beginCell, Cell, storeStateInit } from "@ton/core";
import { Escrow, escrowBodies } from "../../contracts/wrappers/escrow";
import type { PageConfig } from "../../protocol";
import type { WalletTransaction } from "../../web/wallet";

/**
 * The requester's escrow as the pages see it: its address, fixed by (code, owner wallet,
 * network, close delay) and known before it is deployed, and the wallet transactions that
 * deposit, top up, close and withdraw. Bodies and the StateInit are real cells built by the
 * Escrow wrapper, as base64 BOCs, so TON Connect and the dev wallet send the same bytes. Pure and
 * synchronous: a click handler builds the transaction and calls the wallet with no await before.
 */
export const OWNER_OP_VALUE = 50_000_000n; // 0.05 TON with close/withdraw: gas, the rest stays in the escrow
/** Least first deposit and top-up: a claim's minimum, the storage reserve and some gas. */
export const MIN_DEPOSIT = 100_000_000n;

/** Why the chat cannot ask yet, in words that say what to do. */
export class EscrowNotReadyError extends Error {
  override readonly name = "EscrowNotReadyError";
}

export class AmountError extends Error {
  override readonly name = "AmountError";
}

/** "1.5" TON → nanoTON, exactly (no float ever holds an amount). */
export function parseTonAmount(text: string, min = MIN_DEPOSIT): bigint {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,9}))?\s*$/.exec(text);
  if (!m) throw new AmountError("an amount is a number of TON, like 2 or 0.5");
  const nano = BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
  if (nano < min) throw new AmountError(`at least ${Number(min) / 1e9} TON`);
  return nano;
}

export class EscrowAccount {
  readonly contract: Escrow;
  readonly address: string;
  private readonly stateInit: string;

  constructor(
    config: Pick<PageConfig, "globalId" | "escrowCode" | "closeDelay">,
    readonly owner: Address,
  ) {
    this.contract = Escrow.createFromConfig(
      { owner, network: config.globalId, closeDelay: config.closeDelay },
      Cell.fromBase64(config.escrowCode),
    );
    this.address = this.contract.address.toRawString();
    this.stateInit = beginCell()
      .store(storeStateInit(this.contract.init!))
      .endCell()
      .toBoc()
      .toString("base64");
  }

  /** Deploys the escrow if it is not yet, deposits `amount` and authorises the session key: one message. */
  depositTx(sessionKey: Uint8Array, amount: bigint): WalletTransaction {
    return this.tx(amount, escrowBodies.addKey(sessionKey), true);
  }

  topUpTx(amount: bigint): WalletTransaction {
    return this.tx(amount, escrowBodies.deposit(), false);
  }

  closeTx(): WalletTransaction {
    return this.tx(OWNER_OP_VALUE, escrowBodies.close(), false);
  }

  /** Ends a close (before or after withdrawing) and deposits `amount` with the same message. */
  reopenTx(amount = OWNER_OP_VALUE): WalletTransaction {
    return this.tx(amount, escrowBodies.reopen(), false);
  }

  withdrawTx(): WalletTransaction {
    return this.tx(OWNER_OP_VALUE, escrowBodies.withdraw(), false);
  }

  private tx(amount: bigint, body: Cell, deploy: boolean): WalletTransaction {
    return {
      messages: [
        {
          address: this.address,
          amount,
          payload: body.toBoc().toString("base64"),
          ...(deploy && { stateInit: this.stateInit }),
        },
      ],
    };
  }
}
