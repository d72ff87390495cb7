import { Address } from "@ton/core";

/**
 * The one rule on a payout address beyond its being one: it is in the basechain (workchain 0).
 * The Escrow prices a claim's gas, import and payout forward fee at basechain rates; a payout in
 * the masterchain (-1) costs many times more to send to, so a small claim to it is recorded as
 * paid while its payout message cannot cover its own forward fee and nothing arrives. Every place
 * that takes a payout (`npm run provider -- init` and the headless flags, the provider page's
 * payout settings, the provider runtime at start, the signaling server's registration, the
 * requester's trust check) asks this.
 */
export class PayoutWorkchainError extends Error {
  override readonly name = "PayoutWorkchainError";
  constructor(
    readonly payout: string,
    readonly workchain: number,
  ) {
    super(
      `the payout ${payout} is in workchain ${workchain}: a payout must be a basechain (workchain 0) address, where the Escrow prices what a claim costs to send`,
    );
  }
}

/**
 * Why this payout cannot be paid for its workchain, or undefined when it can. Text that is no
 * address at all is not this rule's to judge (undefined): its reader says so in its own words.
 */
export function payoutWorkchainProblem(payout: Address | string): PayoutWorkchainError | undefined {
  let address: Address;
  try {
    address = typeof payout === "string" ? Address.parse(payout.trim()) : payout;
  } catch {
    return undefined;
  }
  return address.workChain === 0
    ? undefined
    : new PayoutWorkchainError(address.toRawString(), address.workChain);
}

/**
 * A payout address parsed and held to the basechain: throws `Address.parse`'s error for text that
 * is no address, `PayoutWorkchainError` for one outside workchain 0.
 */
export function basechainPayout(payout: string | Address): Address {
  const address = typeof payout === "string" ? Address.parse(payout.trim()) : payout;
  const problem = payoutWorkchainProblem(address);
  if (problem) throw problem;
  return address;
}
