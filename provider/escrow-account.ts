import { type Address, Cell } from "@ton/core";
import { Buffer } from "buffer";
import { EscrowParams } from "../contracts/generated/constants";
import { type EscrowState, loadEscrowState } from "../contracts/wrappers/escrow";
import type { Receipt } from "../protocol";
import type { EscrowFacts } from "./account-gate";

/**
 * An escrow as one read of its account shows it: balance, code hash and the whole state (network,
 * close delay, closing, keys, every stream's paid total), parsed here from the account's data.
 * One `getAddressInformation` per read: less than the three getters it replaces, so nothing
 * needs caching between reads and balance and paid totals always come from the same moment.
 */
export interface EscrowAccount {
  readonly codeHash: string;
  readonly balance: bigint;
  /** Undefined when the account holds no data an Escrow could have written. */
  readonly state: EscrowState | undefined;
}

/** What TonClient's `getContractState` returns that matters here (and what a test can supply). */
export interface AccountSnapshot {
  readonly balance: bigint;
  readonly code: Buffer | null;
  readonly data: Buffer | null;
}

export function escrowAccountOf(snapshot: AccountSnapshot): EscrowAccount {
  const code = snapshot.code && snapshot.code.length > 0 ? Cell.fromBoc(snapshot.code)[0] : undefined;
  let state: EscrowState | undefined;
  try {
    const data = snapshot.data && snapshot.data.length > 0 ? Cell.fromBoc(snapshot.data)[0] : undefined;
    state = data ? loadEscrowState(data.beginParse()) : undefined;
  } catch {
    state = undefined; // another contract's data: the code check refuses it by name
  }
  return { codeHash: code ? code.hash().toString("hex") : "", balance: snapshot.balance, state };
}

/** What a balance can still pay out: everything above the storage reserve the escrow keeps. */
export function availableOf(balance: bigint): bigint {
  const available = balance - EscrowParams.STORAGE_RESERVE;
  return available > 0n ? available : 0n;
}

/**
 * What the escrow can still pay one stream: its free balance (above the storage reserve and every
 * stream's reserve left) plus the stream's own reserve left (contracts/README.md, "Reserves").
 */
export function payableTo(account: EscrowAccount, stream: { keyEpoch: number; payout: Address }): bigint {
  const s = account.state;
  if (!s) return availableOf(account.balance);
  const paid = s.paidOf(stream.keyEpoch, stream.payout);
  const reserved = s.reservedOf(stream.keyEpoch, stream.payout);
  const free = availableOf(account.balance) - s.locked;
  return (free > 0n ? free : 0n) + (reserved > paid ? reserved - paid : 0n);
}

/** The gate's facts for one session: its key and its stream, from the account read. */
export function escrowFacts(account: EscrowAccount, base: Receipt, sessionKey: Uint8Array): EscrowFacts {
  const s = account.state;
  const record = s?.keys.get(BigInt(`0x${Buffer.from(sessionKey).toString("hex")}`));
  return {
    codeHash: account.codeHash,
    network: s?.network ?? 0,
    closeDelay: s?.closeDelay ?? 0,
    unlockAt: s?.unlockAt ?? 0,
    key: record && { epoch: record.epoch, active: BigInt(record.validUntil) === EscrowParams.KEY_ACTIVE },
    available: payableTo(account, base),
    reserving: (s?.locked ?? 0n) > 0n,
    paid: s ? s.paidOf(base.keyEpoch, base.payout) : 0n,
    claimDepth: s ? s.claimDepth(base.keyEpoch, base.payout) : 0,
  };
}

export type AccountReader = (address: Address) => Promise<AccountSnapshot>;

export async function readEscrowAccount(read: AccountReader, address: Address): Promise<EscrowAccount> {
  return escrowAccountOf(await read(address));
}
