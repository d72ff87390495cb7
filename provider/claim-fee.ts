import { beginCell, type Cell, external, storeMessage } from "@ton/core";
import {
  computeExternalMessageFees,
  computeFwdFees,
  computeGasPrices,
  configParseGasLimitsPrices,
  configParseMsgPrices,
  type GasLimitsPrices,
  type MsgPrices,
} from "@ton/ton";
import { externalClaimBody } from "../contracts/wrappers/escrow";
import type { SignedReceipt } from "../protocol/receipt";

/**
 * What an external claim costs, known rather than guessed: the gas of each claim path as measured
 * on the Escrow (tests/provider/claim-fee.test.ts fails when the contract's gas moves), priced
 * with the network's own gas and message prices (config params 21 and 25, basechain), read from
 * the chain. All of it comes out of the claimed amount: gas, the import fee of the external
 * message, and the forward fee of the payout message.
 */
export const CLAIM_GAS = {
  /** The escrow's very first claim: the hot slot is empty. */
  escrowFirst: 5_307n,
  /** The next receipt of the stream in the hot slot. */
  hot: 5_038n,
  /** The first claim of a stream when another holds the slot. */
  newStream: 6_515n,
  /** A stream kept in the dictionary, or a key older than the newest (the dearest common path). */
  cold: 7_047n,
} as const;

/**
 * While any stream of the escrow has a reserve left (its `locked` above 0), every claim takes the
 * reserve-aware path: about 2,100 gas more on each path (measured: hot 7,181, an escrow's first
 * 7,482, a new stream's first 8,498, its next 8,571; contracts/README.md, "Gas"). Rounded up:
 * never an under-estimate.
 */
export const RESERVED_CLAIM_GAS = 2_300n;

/**
 * How many forks fewer a reserve-aware claim fits under the external gas credit: its extra gas
 * over about 600 a fork (measured: with a reserve left, a new stream's first external claim is
 * accepted up to the 16th random stream, refused at the 17th; 50 without).
 */
export const RESERVED_DEPTH_PENALTY = 4;

export type ClaimPath = keyof typeof CLAIM_GAS;

/**
 * Off the hot slot a claim walks the `paid` dictionary: about 700 gas more per doubling of its
 * entries (measured: the first claim of an escrow's 32nd stream, 30 entries, 9,966 = 6,466 + 5 × 700;
 * never less than the truth for fewer).
 */
export const GAS_PER_DICTIONARY_DOUBLING = 700n;

/**
 * The most forks of the `paid` dictionary an external claim off the hot slot can walk and still
 * fit the 10,000 gas TON lends before the escrow accepts it. Measured on the Escrow: a new
 * stream's first claim past 8 forks along its key is accepted, past 9 refused (a comb of other
 * streams' keys sharing ever longer prefixes with it; random keys reach 8 forks only at about
 * 100 streams). Past it only an internal claim, paid from a wallet, gets through.
 */
export const MAX_EXTERNAL_CLAIM_DEPTH = 8;

/**
 * A provider that claims only externally serves an escrow only while its stream sits at most this
 * deep (two forks of margin for a session's life), and claims what it holds at once from this
 * depth on, before more of someone else's streams push its claim past the credit.
 */
export const CROWDED_CLAIM_DEPTH = MAX_EXTERNAL_CLAIM_DEPTH - 2;

export function claimGas(path: ClaimPath, dictionaryEntries: number, reserved = false): bigint {
  const base = CLAIM_GAS[path] + (reserved ? RESERVED_CLAIM_GAS : 0n);
  if (path !== "newStream" && path !== "cold") return base;
  const depth = dictionaryEntries <= 1 ? 0 : Math.ceil(Math.log2(dictionaryEntries));
  return base + GAS_PER_DICTIONARY_DOUBLING * BigInt(depth);
}

export interface ChainPrices {
  readonly gas: GasLimitsPrices;
  readonly msg: MsgPrices;
}

/** Config params 21 (basechain gas) and 25 (basechain messages), as cells read from the chain. */
export function chainPricesOf(param21: Cell, param25: Cell): ChainPrices {
  return {
    gas: configParseGasLimitsPrices(param21.beginParse()),
    msg: configParseMsgPrices(param25.beginParse()),
  };
}

/** Every fee a claim of `signed` on `path` costs the payout, in nanoTON. */
export function claimFee(
  signed: SignedReceipt,
  path: ClaimPath,
  prices: ChainPrices,
  dictionaryEntries = 1,
  reserved = false,
): bigint {
  const gas = computeGasPrices(claimGas(path, dictionaryEntries, reserved), {
    flatLimit: prices.gas.flatLimit,
    flatPrice: prices.gas.flatGasPrice,
    price: prices.gas.other.gasPrice,
  });
  const message = beginCell()
    .store(storeMessage(external({ to: signed.receipt.escrow, body: externalClaimBody(signed) })))
    .endCell();
  const imported = computeExternalMessageFees(prices.msg, message);
  // The payout message carries no body: its forward fee is the lump price alone.
  const payout = computeFwdFees(prices.msg, 0n, 0n);
  return gas + imported + payout;
}

/** Which path a claim takes, from what the last read of the escrow showed. */
export function claimPath(s: {
  claimedBefore: boolean;
  hot: boolean;
  escrowEverClaimed: boolean;
}): ClaimPath {
  if (s.hot) return "hot";
  if (!s.escrowEverClaimed) return "escrowFirst";
  return s.claimedBefore ? "cold" : "newStream";
}
