import { EscrowParams } from "../../contracts/generated/constants";
import { formatTon } from "../../protocol/ton-amount";
import type { SettlementStatus } from "../settlement";

/** The least an escrow pays out in one claim: smaller unclaimed amounts wait for more receipts. */
export const MIN_CLAIM = EscrowParams.MIN_CLAIM;

/** What "Claim now" did, in words: never "paid" when nothing moved. Pure. */
type Totals = Pick<SettlementStatus, "claimed" | "pending"> & Partial<Pick<SettlementStatus, "feesPaid">>;

export function claimOutcome(before: Totals, after: Totals): string {
  const paid = after.claimed - before.claimed;
  const fees = (after.feesPaid ?? 0n) - (before.feesPaid ?? 0n);
  const min = formatTon(MIN_CLAIM);
  if (paid > 0n) {
    const left =
      after.pending > 0n
        ? ` ${formatTon(after.pending)} TON is still waiting (below the ${min} TON minimum per requester, or not yet confirmed).`
        : "";
    const feeText = fees > 0n ? ` (${formatTon(fees)} TON)` : "";
    return `Claimed ${formatTon(paid)} TON: the escrows paid your payout address, less their network fees${feeText}.${left}`;
  }
  if (before.pending === 0n) return "Nothing to claim: every signed receipt is already paid.";
  return `Nothing claimed: ${formatTon(before.pending)} TON is unclaimed, but an escrow pays only claims of at least ${min} TON per requester. It is claimed once a requester's receipts pass ${min} TON.`;
}
