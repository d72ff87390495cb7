import { Address } from "@ton/core";

/** Why a payout address cannot be used, or undefined when it can. */
export function payoutProblem(text: string | undefined): string | undefined {
  if (!text?.trim()) return "set a payout address (connect a wallet, or paste an address)";
  try {
    Address.parse(text.trim());
    return undefined;
  } catch {
    return "that is not a TON address (raw 0:… or user-friendly EQ…/UQ… form)";
  }
}

/** An address in raw form (0:…), as receipts and the Registry compare them. */
export function rawAddress(text: string): string {
  return Address.parse(text.trim()).toRawString();
}
