import { type Address, type Builder, beginCell, type Cell } from "@ton/core";
import { Buffer } from "buffer";
import { MalformedMessageError } from "./errors";
import { sign } from "./identity";
import { checkStreamFields, MAX_COINS } from "./receipt";

/**
 * A reserve raise: the requester's session key moving money of its escrow's free balance into
 * one stream (key epoch, payout), where no claim of another stream can take it. Cumulative, like
 * a receipt: `reserved` is the stream's whole reserve, so a replayed or older raise is refused
 * by the escrow before it is accepted (it costs nothing). It travels to the chain as an external
 * message shaped like an external claim (signature, session key, ^cell), told apart by its tag.
 * `validUntil` must be less than one close delay ahead: the escrow refuses it after that time and
 * refuses one valid for longer, so a raise cannot be replayed after a withdraw ended every reserve.
 *
 * TL-B (contracts/escrow/messages.tolk):
 *   reserve#534c4b4c network:int32 escrow:MsgAddressInt payout:MsgAddressInt
 *     key_epoch:uint32 valid_until:uint32 reserved:Coins = Reserve;
 *   signed_reserve$_ signature:bits512 session_key:bits256 reserve:^Reserve = SignedReserve;
 */
export const RESERVE_TAG = 0x534c4b4c; // "SLKL"

export interface Reserve {
  readonly network: number;
  readonly escrow: Address;
  readonly payout: Address;
  readonly keyEpoch: number;
  /** Unix time after which the escrow refuses this raise. */
  readonly validUntil: number;
  /** The stream's whole reserve, cumulative nanoTON. */
  readonly reserved: bigint;
}

export interface SignedReserve {
  readonly reserve: Reserve;
  readonly sessionKey: Uint8Array;
  readonly signature: Uint8Array;
}

export function storeReserve(r: Reserve): (b: Builder) => void {
  return (b) => {
    checkStreamFields(r);
    if (r.reserved <= 0n || r.reserved > MAX_COINS) throw new MalformedMessageError("reserve out of range");
    if (!Number.isInteger(r.validUntil) || r.validUntil < 0 || r.validUntil > 0xffffffff)
      throw new MalformedMessageError("reserve valid_until out of range");
    b.storeUint(RESERVE_TAG, 32)
      .storeInt(r.network, 32)
      .storeAddress(r.escrow)
      .storeAddress(r.payout)
      .storeUint(r.keyEpoch, 32)
      .storeUint(r.validUntil, 32)
      .storeCoins(r.reserved);
  };
}

export function reserveCell(r: Reserve): Cell {
  return beginCell().store(storeReserve(r)).endCell();
}

export function signReserve(
  reserve: Reserve,
  sessionKey: { publicKey: Uint8Array; secretKey: Uint8Array },
): SignedReserve {
  const hash = reserveCell(reserve).hash();
  return { reserve, sessionKey: sessionKey.publicKey, signature: sign(sessionKey.secretKey, hash) };
}

/** The whole body of the external message that raises the reserve. */
export function signedReserveBody(sr: SignedReserve): Cell {
  return beginCell()
    .storeBuffer(Buffer.from(sr.signature), 64)
    .storeBuffer(Buffer.from(sr.sessionKey), 32)
    .storeRef(reserveCell(sr.reserve))
    .endCell();
}
