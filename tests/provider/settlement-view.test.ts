import { describe, expect, it } from "vitest";
import type { SettlementStatus, StreamStatus } from "../../provider/settlement-status";
import {
  claimNowText,
  nextClaimText,
  statusReport,
  streamLine,
  summaryText,
} from "../../provider/settlement-view";
import { explorerUrl } from "../../web/explorer";

const HOUR = 3_600_000;
const T = 1_800_000_000_000;
const ESCROW = `0:${"ab".repeat(32)}`;
const stream: StreamStatus = {
  id: "s",
  escrow: ESCROW,
  tokens: 20_000n,
  amount: 20_000_000n,
  claimed: 0n,
  pending: 20_000_000n,
  unpayable: 0n,
  fee: 3_392_800n,
  feeShareBps: 1_697,
  next: { action: "wait", reason: "fee-above-target", worthAt: 339_280_000n, deadline: T + 5 * HOUR },
  claims: [{ at: T - HOUR, amount: 400_000_000n, fee: 3_392_800n, reason: "worth-it" }],
};

const summary: SettlementStatus = {
  earned: 420_000_000n,
  claimed: 400_000_000n,
  pending: 20_000_000n,
  feesPaid: 3_392_800n,
  feeShareBps: 85,
  escrows: [],
  claimNow: { streams: 0, amount: 0n, fee: undefined },
  streams: [],
};

describe("settlement in words, for the page and the headless provider", () => {
  it("says when and why each stream will be claimed", () => {
    expect(nextClaimText(stream.next, T)).toBe(
      "waiting until 0.33928 TON is held (fee within your share) at the latest in 5 h",
    );
    expect(nextClaimText({ action: "claim", reason: "escrow-closing" }, T)).toBe(
      "claiming now: its escrow is closing",
    );
    expect(nextClaimText({ action: "wait", reason: "below-minimum", deadline: T + 30 * 60_000 }, T)).toMatch(
      /minimum claim of 0.01 TON at the latest in 30 min/,
    );
  });

  it("gives each claim's fee and share, the fee of claiming now, and what could not be paid", () => {
    const line = streamLine({ ...stream, unpayable: 49_000_000_000n }, T);
    expect(line.escrow).toBe("ababab…abab");
    expect(line.held).toBe("0.02 TON (+49 TON the escrow could not pay)");
    expect(line.fee).toBe("0.0033928 TON (17.0% of what is held)");
    // A fee above a tiny amount held is said as such, not as a share of thousands of percent.
    expect(streamLine({ ...stream, pending: 1_000n, feeShareBps: 33_928_000 }, T).fee).toBe(
      "0.0033928 TON (more than what is held: not claimed until more is)",
    );
    expect(line.claims).toEqual([
      {
        text: `${new Date(T - HOUR).toISOString().slice(0, 16).replace("T", " ")}: 0.4 TON, fee 0.0033928 TON (0.85%), because the fee is within your target share`,
      },
    ]);
  });

  it("keeps each claim's transaction, linked on public networks only", () => {
    const tx = "c0".repeat(32);
    const line = streamLine({ ...stream, claims: [{ ...stream.claims[0]!, tx }] }, T);
    expect(line.claims[0]?.tx).toBe(tx);
    expect(explorerUrl("mainnet", { tx })).toBe(`https://tonviewer.com/transaction/${tx}`);
    expect(explorerUrl("testnet", { tx })).toBe(`https://testnet.tonviewer.com/transaction/${tx}`);
    expect(explorerUrl("testnet", { address: ESCROW })).toBe(`https://testnet.tonviewer.com/${ESCROW}`);
    expect(explorerUrl("devnet", { tx })).toBeUndefined();
    const report = statusReport(
      { ...summary, streams: [{ ...stream, claims: [{ ...stream.claims[0]!, tx }] }] },
      T,
      new Set(),
    );
    expect(report.find((l) => l.startsWith("  claimed from"))).toMatch(new RegExp(`; transaction ${tx}$`));
  });

  it("says what Claim now would cost before it is pressed, and sums up", () => {
    const status: SettlementStatus = {
      earned: 420_000_000n,
      claimed: 400_000_000n,
      pending: 20_000_000n,
      feesPaid: 3_392_800n,
      feeShareBps: 85,
      escrows: [{ escrow: ESCROW, held: 20_000_000n, closing: false }],
      claimNow: { streams: 1, amount: 20_000_000n, fee: 3_392_800n },
      streams: [stream],
    };
    expect(claimNowText(status)).toBe(
      "Claim now would claim 0.02 TON from 1 escrow stream for about 0.0033928 TON in fees (17.0%).",
    );
    // Held but not claimable yet (below an escrow's minimum, say): not "nothing", and where to read why.
    expect(claimNowText({ ...status, claimNow: { streams: 0, amount: 0n, fee: 0n } })).toBe(
      "Nothing can be claimed yet: the 0.02 TON held waits (each requester's line under Claims says why).",
    );
    expect(claimNowText({ ...status, pending: 0n, claimNow: { streams: 0, amount: 0n, fee: 0n } })).toBe(
      "Nothing to claim now: every signed receipt is paid.",
    );
    expect(summaryText(status)).toBe(
      "earned 0.42 TON, claimed 0.4 TON, fees 0.0033928 TON (0.85%), held 0.02 TON [ababab…abab 0.02]",
    );
  });

  it("the headless report names every claim once, even of a stream with nothing left held", () => {
    const emptied: StreamStatus = { ...stream, id: "e", pending: 0n, claimed: 400_000_000n };
    const status: SettlementStatus = {
      earned: 420_000_000n,
      claimed: 400_000_000n,
      pending: 20_000_000n,
      feesPaid: 3_392_800n,
      feeShareBps: 85,
      escrows: [{ escrow: ESCROW, held: 20_000_000n, closing: false }],
      claimNow: { streams: 1, amount: 20_000_000n, fee: 3_392_800n },
      streams: [emptied, stream],
    };
    const reported = new Set<string>();
    const first = statusReport(status, T, reported);
    const claims = first.filter((l) => l.startsWith("  claimed from"));
    expect(claims).toHaveLength(2);
    expect(claims[0]).toContain("0.4 TON, fee 0.0033928 TON (0.85%)");
    expect(first.filter((l) => l.includes("held;"))).toHaveLength(1); // only the stream still held
    expect(statusReport(status, T, reported).some((l) => l.startsWith("  claimed from"))).toBe(false);
    const later = {
      ...stream,
      claims: [
        ...stream.claims,
        { at: T, amount: 20_000_000n, fee: 3_392_800n, reason: "escrow-closing" as const },
      ],
    };
    const next = statusReport({ ...status, streams: [emptied, later] }, T, reported);
    expect(next.filter((l) => l.startsWith("  claimed from"))).toEqual([
      expect.stringContaining("0.02 TON, fee 0.0033928 TON (17.0%), because"),
    ]);
  });
});
