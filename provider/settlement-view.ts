import { formatTon } from "../protocol/ton-amount";
import { type ClaimDecision, type ClaimReason, shareBps } from "./settlement-policy";
import type { SettlementStatus, StreamStatus } from "./settlement-status";

/**
 * Settlement's status in words, the same on the provider page and in the headless provider's
 * output: what was earned, what is held per escrow, when each stream will be claimed and why,
 * what every claim cost and its share, and what "Claim now" would cost. Pure: no DOM, no clock
 * but the one passed in.
 */
// Every claim reason has its words (stored claims name theirs as a string).
const REASONS: Readonly<Record<string, string>> = {
  asked: "you pressed Claim now",
  "escrow-closing": "its escrow is closing",
  "key-revoked": "its session key was revoked, so the escrow pays it only for a while",
  "escrow-crowding":
    "the escrow pays so many other streams that a few more would leave no claim room for this one",
  "escrow-low": "its escrow is close to running out",
  "trust-spent": "it has used half of what its requester is trusted for without a reserve",
  "held-too-long": "it was held as long as you allow",
  "worth-it": "the fee is within your target share",
} satisfies Record<ClaimReason, string>;

export function percent(bps: number): string {
  return `${(bps / 100).toFixed(bps < 100 ? 2 : 1)}%`;
}

export function shortId(hexAddress: string): string {
  const hex = hexAddress.split(":")[1] ?? hexAddress;
  return `${hex.slice(0, 6)}…${hex.slice(-4)}`;
}

/** When and why a stream will be claimed. */
export function nextClaimText(next: ClaimDecision, now: number): string {
  if (next.action === "nothing") return "nothing to claim";
  if (next.action === "claim") return `claiming now: ${REASONS[next.reason] ?? next.reason}`;
  const by = next.deadline !== undefined ? ` at the latest ${when(next.deadline, now)}` : "";
  switch (next.reason) {
    case "below-minimum":
      return `waiting: below the escrow's minimum claim of 0.01 TON${by}`;
    case "fee-unknown":
      return `waiting: the network's fee could not be read yet${by}`;
    case "fee-exceeds-amount":
      return "waiting: the fee would take all of it";
    default:
      return `waiting until ${formatTon(next.worthAt ?? 0n)} TON is held (fee within your share)${by}`;
  }
}

function when(at: number, now: number): string {
  const minutes = Math.max(0, Math.round((at - now) / 60_000));
  if (minutes < 1) return "now";
  if (minutes < 120) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `in ${hours} h` : `in ${Math.round(hours / 24)} days`;
}

export interface StreamLine {
  readonly id: string;
  readonly escrow: string;
  readonly held: string;
  readonly fee: string;
  readonly next: string;
  /** Each claim in words, with the hash of the transaction that took it when known. */
  readonly claims: readonly { readonly text: string; readonly tx?: string }[];
  readonly problem?: string;
}

export function streamLine(s: StreamStatus, now: number): StreamLine {
  return {
    id: s.id,
    escrow: shortId(s.escrow),
    held: `${formatTon(s.pending)} TON${s.unpayable > 0n ? ` (+${formatTon(s.unpayable)} TON the escrow could not pay)` : ""}`,
    fee:
      s.fee !== undefined
        ? `${formatTon(s.fee)} TON (${s.fee >= s.pending ? "more than what is held: not claimed until more is" : `${percent(s.feeShareBps ?? 0)} of what is held`})`
        : "unknown until the network's prices are read",
    next: nextClaimText(s.next, now),
    claims: s.claims.map((c) => ({
      text: `${new Date(c.at).toISOString().slice(0, 16).replace("T", " ")}: ${formatTon(c.amount)} TON, fee ${formatTon(c.fee)} TON (${percent(shareBps(c.fee, c.amount))}), because ${REASONS[c.reason] ?? c.reason}`,
      ...(c.tx && { tx: c.tx }),
    })),
    ...(s.lastError ? { problem: s.lastError } : {}),
  };
}

/** What pressing "Claim now" would do, said before it is pressed. */
export function claimNowText(s: SettlementStatus): string {
  const c = s.claimNow;
  // Beside an enabled "Claim now" (pressing it says what happened), say why nothing would go.
  if (c.streams === 0)
    return s.pending > 0n
      ? `Nothing can be claimed yet: the ${formatTon(s.pending)} TON held waits (each requester's line under Claims says why).`
      : "Nothing to claim now: every signed receipt is paid.";
  const fee =
    c.fee === undefined
      ? "an unknown fee"
      : `about ${formatTon(c.fee)} TON in fees (${percent(shareBps(c.fee, c.amount))})`;
  return `Claim now would claim ${formatTon(c.amount)} TON from ${c.streams} ${c.streams === 1 ? "escrow stream" : "escrow streams"} for ${fee}.`;
}

/** One summary line (the headless provider prints it). */
export function summaryText(s: SettlementStatus): string {
  const held = s.escrows.map(
    (e) => `${shortId(e.escrow)} ${formatTon(e.held)}${e.closing ? " (closing)" : ""}`,
  );
  return [
    `earned ${formatTon(s.earned)} TON`,
    `claimed ${formatTon(s.claimed)} TON`,
    `fees ${formatTon(s.feesPaid)} TON (${percent(s.feeShareBps)})`,
    `held ${formatTon(s.pending)} TON${held.length ? ` [${held.join(", ")}]` : ""}`,
  ].join(", ");
}

/**
 * What the headless provider prints each minute: the summary, every claim made since the last
 * report (with its fee and share), each stream still held and when it will be claimed, and what
 * Claim now would cost. `reported` holds the claims already printed and is updated.
 */
export function statusReport(s: SettlementStatus, now: number, reported: Set<string>): string[] {
  const claimed: string[] = [];
  const held: string[] = [];
  for (const x of s.streams) {
    const l = streamLine(x, now);
    x.claims.forEach((c, i) => {
      const key = `${x.id}@${c.at}#${i}`;
      if (reported.has(key)) return;
      reported.add(key);
      const claim = l.claims[i];
      claimed.push(
        `  claimed from ${l.escrow} ${claim?.text}${claim?.tx ? `; transaction ${claim.tx}` : ""}`,
      );
    });
    if (x.pending > 0n)
      held.push(
        `  ${l.escrow}: ${l.held} held; ${l.next}; fee now ${l.fee}${l.problem ? ` (${l.problem})` : ""}`,
      );
  }
  return [summaryText(s), ...claimed, ...held, `  ${claimNowText(s)}`];
}
