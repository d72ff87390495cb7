import {
  type Address,
  type BitString,
  type Builder,
  beginCell,
  type Cell,
  type Contract,
  type ContractProvider,
  contractAddress,
  Dictionary,
  type Sender,
  type Slice,
  TupleBuilder,
} from "@ton/core";
import { Buffer } from "buffer";
import { type SignedReceipt, storeSignedReceipt } from "../../protocol/receipt";
import { type SignedReserve, signedReserveBody } from "../../protocol/reserve";
import { EscrowOp } from "../generated/constants";
import { sendBody } from "./send-body";

/** What fixes an escrow's address: one per requester wallet, network and close delay. */
export interface EscrowConfig {
  readonly owner: Address;
  /** TON global id of the network whose receipts it accepts (NETWORK_ID in protocol/receipt). */
  readonly network: number;
  /** Seconds between close and withdraw (and a revoked key's grace period). */
  readonly closeDelay: number;
}

export interface EscrowState extends EscrowConfig {
  readonly unlockAt: number;
  readonly nextEpoch: number;
  readonly keys: Dictionary<bigint, KeyRecord>;
  /** What the stream (key epoch, payout) was paid, from the hot slot or the `paid` dictionary (get_paid). */
  paidOf(epoch: number, payout: Address): bigint;
  /** Whether the stream holds the hot slot (its next claim takes the cheapest path). */
  isHot(epoch: number, payout: Address): boolean;
  /** Whether any claim was ever paid (the slot is filled by the first). */
  readonly everClaimed: boolean;
  /** How many streams the `paid` dictionary holds (a claim off the hot slot walks it). */
  readonly paidEntries: number;
  /**
   * How many forks of the `paid` dictionary a claim for the stream walks past (0 for the hot
   * stream): its gas grows with them, whatever the dictionary's size (claim-fee.ts).
   */
  claimDepth(epoch: number, payout: Address): number;
  /** The stream's cumulative reserve (0 when never raised); max(0, reserve - paid) of it is left. */
  reservedOf(epoch: number, payout: Address): bigint;
  /** What all streams still have reserved but unpaid: no claim of another stream can take it. */
  readonly locked: bigint;
}

/** stream_key$_ payout:MsgAddressInt epoch:uint32 = StreamKey; (the receipt's own 299 bits) */
function streamKeyBits(epoch: number, payout: Address): BitString {
  return beginCell().storeAddress(payout).storeUint(epoch, 32).endCell().bits;
}

export interface KeyRecord {
  readonly epoch: number;
  /** KEY_ACTIVE (0xFFFFFFFF) until revoked; then the time until which its receipts stay claimable. */
  readonly validUntil: number;
}

/** key_record$_ epoch:uint32 valid_until:uint32 = KeyRecord; */
const keyRecordValue = {
  serialize: (r: KeyRecord, b: Builder) => {
    b.storeUint(r.epoch, 32).storeUint(r.validUntil, 32);
  },
  parse: (s: Slice): KeyRecord => ({ epoch: s.loadUint(32), validUntil: s.loadUint(32) }),
};

/**
 * escrow_storage$_ hot_stream:bits299 hot_paid:Coins locked:Coins network:int32
 *   hot_key:bits256 hot_key_record:KeyRecord close_delay:uint32 unlock_at:uint32 next_epoch:uint32
 *   paid:(HashmapE 299 Coins) keys:(HashmapE 256 KeyRecord) reserved:(HashmapE 299 Coins)
 *   owner:^MsgAddressInt = EscrowStorage;
 * (contracts/escrow/storage.tolk: the stream claimed last and the key added last live in the
 * root, every other one in its dictionary.) The initial state: no stream (hot_stream all zeros,
 * hot_paid 0), nothing reserved, no key (hot_key and hot_key_record all zeros), nothing closing,
 * first epoch 1.
 */
export function storeEscrowInit(c: EscrowConfig): (b: Builder) => void {
  return (b) => {
    b.storeUint(0, 299)
      .storeCoins(0)
      .storeCoins(0) // locked
      .storeInt(c.network, 32)
      .storeUint(0, 256)
      .storeUint(0, 32) // hot_key_record: epoch 0, valid_until 0
      .storeUint(0, 32)
      .storeUint(c.closeDelay, 32)
      .storeUint(0, 32)
      .storeUint(1, 32)
      .storeBit(false)
      .storeBit(false)
      .storeBit(false)
      .storeRef(beginCell().storeAddress(c.owner));
  };
}

/**
 * The escrow's state, with the hot key merged into `keys` and paid totals as `paidOf`: all of
 * get_escrow_data (but the balance), get_key and get_paid from one read of the account's data.
 */
export function loadEscrowState(s: Slice): EscrowState {
  const hotStream = s.loadBits(299);
  const hotPaid = s.loadCoins();
  const locked = s.loadCoins();
  const network = s.loadInt(32);
  const hotKey = s.loadUintBig(256);
  const hotRecord = keyRecordValue.parse(s);
  const closeDelay = s.loadUint(32);
  const unlockAt = s.loadUint(32);
  const nextEpoch = s.loadUint(32);
  const paid = s.loadDict(Dictionary.Keys.BitString(299), Dictionary.Values.BigVarUint(4));
  const keys = s.loadDict(Dictionary.Keys.BigUint(256), keyRecordValue);
  const reserved = s.loadDict(Dictionary.Keys.BitString(299), Dictionary.Values.BigVarUint(4));
  if (hotRecord.epoch !== 0) keys.set(hotKey, hotRecord);
  const owner = s.loadRef().beginParse().loadAddress();
  s.endParse();
  const paidOf = (epoch: number, payout: Address): bigint => {
    const key = streamKeyBits(epoch, payout);
    return key.equals(hotStream) ? hotPaid : (paid.get(key) ?? 0n);
  };
  const isHot = (epoch: number, payout: Address) => streamKeyBits(epoch, payout).equals(hotStream);
  const everClaimed = hotPaid > 0n;
  const paidEntries = paid.size;
  const claimDepth = (epoch: number, payout: Address): number => {
    const key = streamKeyBits(epoch, payout);
    if (key.equals(hotStream)) return 0;
    // Each distinct length of prefix the key shares with a stored one is a fork on its path.
    const forks = new Set<number>();
    for (const other of paid.keys()) {
      let i = 0;
      while (i < key.length && other.at(i) === key.at(i)) i++;
      forks.add(i);
    }
    return forks.size;
  };
  const reservedOf = (epoch: number, payout: Address): bigint =>
    reserved.get(streamKeyBits(epoch, payout)) ?? 0n;
  return {
    network,
    keys,
    reservedOf,
    locked,
    owner,
    closeDelay,
    unlockAt,
    nextEpoch,
    paidOf,
    isHot,
    everClaimed,
    paidEntries,
    claimDepth,
  };
}

/** op:uint32 query_id:uint64, the head of every internal Escrow message. */
export function storeHead(op: number, queryId: bigint | number = 0): (b: Builder) => void {
  return (b) => {
    b.storeUint(op, 32).storeUint(queryId, 64);
  };
}

/** add_key#53450002 / revoke_key#53450003 query_id:uint64 key:bits256 */
export function storeKeyMessage(op: number, key: Uint8Array, queryId?: bigint | number): Cell {
  if (key.length !== 32) throw new RangeError("a session key is 32 bytes");
  return beginCell().store(storeHead(op, queryId)).storeBuffer(Buffer.from(key), 32).endCell();
}

/**
 * Bodies of the owner's and depositors' internal messages, for wallets that take a ready cell
 * (TON Connect): the same cells the `sendX` methods below send.
 */
export const escrowBodies = {
  deposit: (queryId?: bigint | number): Cell =>
    beginCell().store(storeHead(EscrowOp.Deposit, queryId)).endCell(),
  addKey: (key: Uint8Array, queryId?: bigint | number): Cell =>
    storeKeyMessage(EscrowOp.AddKey, key, queryId),
  revokeKey: (key: Uint8Array, queryId?: bigint | number): Cell =>
    storeKeyMessage(EscrowOp.RevokeKey, key, queryId),
  close: (queryId?: bigint | number): Cell => beginCell().store(storeHead(EscrowOp.Close, queryId)).endCell(),
  reopen: (queryId?: bigint | number): Cell =>
    beginCell().store(storeHead(EscrowOp.Reopen, queryId)).endCell(),
  withdraw: (queryId?: bigint | number): Cell =>
    beginCell().store(storeHead(EscrowOp.Withdraw, queryId)).endCell(),
};

/** claim#53450007 query_id:uint64 signature:bits512 session_key:bits256 receipt:^Receipt */
export function storeClaim(signed: SignedReceipt, queryId: bigint | number = 0): (b: Builder) => void {
  return (b) => {
    b.store(storeHead(EscrowOp.Claim, queryId)).store(storeSignedReceipt(signed));
  };
}

/** The body of an external claim: exactly the signed receipt. */
export function externalClaimBody(signed: SignedReceipt): Cell {
  return beginCell().store(storeSignedReceipt(signed)).endCell();
}

export interface EscrowData extends EscrowConfig {
  readonly unlockAt: number;
  readonly nextEpoch: number;
  readonly balance: bigint;
}

export interface ClaimTerms {
  readonly minClaim: bigint;
  readonly storageReserve: bigint;
  readonly claimGasLimit: bigint;
}

export class Escrow implements Contract {
  constructor(
    readonly address: Address,
    readonly init?: { code: Cell; data: Cell },
  ) {}

  static createFromAddress(address: Address): Escrow {
    return new Escrow(address);
  }

  static createFromConfig(config: EscrowConfig, code: Cell, workchain = 0): Escrow {
    const data = beginCell().store(storeEscrowInit(config)).endCell();
    const init = { code, data };
    return new Escrow(contractAddress(workchain, init), init);
  }

  /** Deploys (when the init is known) or tops up: a deposit anyone may make. */
  async sendDeposit(
    provider: ContractProvider,
    via: Sender,
    value: bigint,
    queryId?: bigint | number,
  ): Promise<void> {
    await sendBody(provider, via, value, escrowBodies.deposit(queryId), false);
  }

  /** Owner only. The attached value is deposited too, so funding and authorising is one message. */
  async sendAddKey(
    provider: ContractProvider,
    via: Sender,
    opts: { key: Uint8Array; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, storeKeyMessage(EscrowOp.AddKey, opts.key, opts.queryId));
  }

  async sendRevokeKey(
    provider: ContractProvider,
    via: Sender,
    opts: { key: Uint8Array; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(provider, via, opts.value, storeKeyMessage(EscrowOp.RevokeKey, opts.key, opts.queryId));
  }

  async sendClose(
    provider: ContractProvider,
    via: Sender,
    value: bigint,
    queryId?: bigint | number,
  ): Promise<void> {
    await this.sendOp(provider, via, EscrowOp.Close, value, queryId);
  }

  async sendReopen(
    provider: ContractProvider,
    via: Sender,
    value: bigint,
    queryId?: bigint | number,
  ): Promise<void> {
    await this.sendOp(provider, via, EscrowOp.Reopen, value, queryId);
  }

  async sendWithdraw(
    provider: ContractProvider,
    via: Sender,
    value: bigint,
    queryId?: bigint | number,
  ): Promise<void> {
    await this.sendOp(provider, via, EscrowOp.Withdraw, value, queryId);
  }

  /** A claim paid for by the sender's attached value; what is left of it goes to the payout. */
  async sendClaim(
    provider: ContractProvider,
    via: Sender,
    opts: { signed: SignedReceipt; value: bigint; queryId?: bigint | number },
  ): Promise<void> {
    await sendBody(
      provider,
      via,
      opts.value,
      beginCell().store(storeClaim(opts.signed, opts.queryId)).endCell(),
    );
  }

  /** A claim with no TON of the sender's: gas and fees come out of the payout. */
  async sendExternalClaim(provider: ContractProvider, signed: SignedReceipt): Promise<void> {
    await provider.external(externalClaimBody(signed));
  }

  /**
   * Raises a stream's reserve: an external message signed by the session key, so no wallet is
   * asked. The escrow pays its gas; a replayed or older raise is refused at no cost.
   */
  async sendReserve(provider: ContractProvider, signed: SignedReserve): Promise<void> {
    await provider.external(signedReserveBody(signed));
  }

  private async sendOp(
    provider: ContractProvider,
    via: Sender,
    op: number,
    value: bigint,
    queryId?: bigint | number,
  ): Promise<void> {
    await sendBody(provider, via, value, beginCell().store(storeHead(op, queryId)).endCell());
  }

  async getEscrowData(provider: ContractProvider): Promise<EscrowData> {
    const { stack } = await provider.get("get_escrow_data", []);
    return {
      owner: stack.readAddress(),
      network: stack.readNumber(),
      closeDelay: stack.readNumber(),
      unlockAt: stack.readNumber(),
      nextEpoch: stack.readNumber(),
      balance: stack.readBigNumber(),
    };
  }

  /** What the stream (key epoch, payout address) was already paid, cumulative nanoTON. */
  async getPaid(provider: ContractProvider, epoch: number, payout: Address): Promise<bigint> {
    const args = new TupleBuilder();
    args.writeNumber(epoch);
    args.writeAddress(payout);
    const { stack } = await provider.get("get_paid", args.build());
    return stack.readBigNumber();
  }

  /**
   * The stream's cumulative reserve (0 when never raised) and the escrow's `locked`: what all
   * streams still have reserved but unpaid (the stream's share is max(0, reserved - paid)).
   */
  async getReserve(
    provider: ContractProvider,
    epoch: number,
    payout: Address,
  ): Promise<{ reserved: bigint; locked: bigint }> {
    const args = new TupleBuilder();
    args.writeNumber(epoch);
    args.writeAddress(payout);
    const { stack } = await provider.get("get_reserve", args.build());
    return { reserved: stack.readBigNumber(), locked: stack.readBigNumber() };
  }

  /** The key's record, or undefined when it was never authorised. */
  async getKey(provider: ContractProvider, key: Uint8Array): Promise<KeyRecord | undefined> {
    const args = new TupleBuilder();
    args.writeNumber(BigInt(`0x${Buffer.from(key).toString("hex")}`));
    const { stack } = await provider.get("get_key", args.build());
    const epoch = stack.readNumber();
    const validUntil = stack.readNumber();
    return epoch === 0 ? undefined : { epoch, validUntil };
  }

  async getClaimTerms(provider: ContractProvider): Promise<ClaimTerms> {
    const { stack } = await provider.get("get_claim_terms", []);
    return {
      minClaim: stack.readBigNumber(),
      storageReserve: stack.readBigNumber(),
      claimGasLimit: stack.readBigNumber(),
    };
  }

  async getBalance(provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance;
  }
}
