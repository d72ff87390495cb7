import { Address } from "@ton/core";
import { payoutWorkchainProblem } from "../../protocol/payout";

/** Why a payout address cannot be used, or undefined when it can. */
export function payoutProblem(text: string | undefined): string | undefined {
  if (!text?.trim()) return "set a payout address (connect a wallet, or paste an address)";
  let address: Address;
  try {
    address = Address.parse(text.trim());
  } catch {
    return "that is not a TON address (raw 0:… or user-friendly EQ…/UQ… form)";
  }
  return payoutWorkchainProblem(address)?.message;
}

/** An address in raw form (0:…), as receipts and the Registry compare them. */
export function rawAddress(text: string): string {
  return Address.parse(text.trim()).toRawString();
}
