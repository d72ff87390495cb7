import { Address } from "@ton/core";
import { describe, expect, it } from "vitest";
import { ReserveKeeper, ReserveNotSeenError, raiseValidForS } from "../../client/sdk/reserve-keeper";
import { generateKeyPair, verify } from "../../protocol/identity";
import { NETWORK_ID } from "../../protocol/receipt";
import { reserveCell, type SignedReserve } from "../../protocol/reserve";

const stream = {
  network: NETWORK_ID.devnet,
  escrow: Address.parse(`0:${"11".repeat(32)}`),
  payout: Address.parse(`0:${"22".repeat(32)}`),
  keyEpoch: 2,
};
const key = generateKeyPair();
const AHEAD = 1_000n;

/** A test double of the chain: raises land at once (or never, or are refused), as told. */
function fakeChain(mode: "lands" | "lost" | "refused" = "lands", start = 0n, funds?: bigint) {
  const sent: SignedReserve[] = [];
  let reserved = start;
  return {
    sent,
    /** The owner withdrew after a close: every reserve ends. */
    withdraw: () => {
      reserved = 0n;
    },
    chain: {
      send: async (s: SignedReserve) => {
        sent.push(s);
        if (mode === "refused" || (funds !== undefined && s.reserve.reserved > funds))
          throw new Error("exit code 218");
        if (mode === "lands") reserved = s.reserve.reserved;
      },
      reserved: async () => reserved,
    },
  };
}

describe("the SDK's reserve keeper", () => {
  it("raises ahead of what is signed, signed by the session key, once per two steps", async () => {
    const { chain, sent } = fakeChain();
    const keeper = new ReserveKeeper(stream, key, { chain, ahead: AHEAD, pollMs: 1, now: () => 1_000 });
    await keeper.ensure(0n);
    expect(sent.map((s) => s.reserve.reserved)).toEqual([2_000n]);
    const first = sent[0]!;
    expect(first.reserve).toMatchObject({ keyEpoch: 2, validUntil: 1_050 });
    expect(verify(key.publicKey, reserveCell(first.reserve).hash(), first.signature)).toBe(true);
    // Covered: 500 signed + 1,000 ahead is within 2,000.
    await keeper.ensure(500n);
    expect(sent).toHaveLength(1);
    // Not covered any more: one raise, shared by everyone asking while it runs.
    await Promise.all([keeper.ensure(1_500n), keeper.ensure(1_600n)]);
    expect(sent.map((s) => s.reserve.reserved)).toEqual([2_000n, 3_500n]);
    expect(keeper.reserved).toBe(3_500n);
  });

  it("sends nothing when the chain already shows enough (another session raised it)", async () => {
    const { chain, sent } = fakeChain("lands", 5_000n);
    const keeper = new ReserveKeeper(stream, key, { chain, ahead: AHEAD, pollMs: 1 });
    await keeper.ensure(3_000n);
    expect(sent).toHaveLength(0);
  });

  it("fails with a typed error when the raise is refused, or not seen before its deadline", async () => {
    const refused = fakeChain("refused");
    const a = new ReserveKeeper(stream, key, { chain: refused.chain, ahead: AHEAD, pollMs: 1 });
    const e1 = await a.ensure(0n).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ReserveNotSeenError);
    // Refused at 2,000 and then at the 1,000 this call needs: the page says which.
    expect(refused.sent.map((r) => r.reserve.reserved)).toEqual([2_000n, 1_000n]);
    expect((e1 as ReserveNotSeenError).message).toMatch(/refused to reserve 1000 nanoTON .*cannot fund it/);
    expect((e1 as ReserveNotSeenError).reason).toBe("refused");
    expect((e1 as ReserveNotSeenError).target).toBe(1_000n);

    const lost = fakeChain("lost");
    const b = new ReserveKeeper(stream, key, { chain: lost.chain, ahead: AHEAD, pollMs: 5, deadlineMs: 30 });
    const e2 = await b.ensure(0n).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ReserveNotSeenError);
    expect((e2 as ReserveNotSeenError).code).toBe("TIMEOUT");
    expect((e2 as ReserveNotSeenError).reason).toBe("not-seen");
    expect((e2 as Error).message).toMatch(/not seen on chain within 30 ms/);
    // A later call tries again rather than repeating the old failure.
    expect(await b.ensure(0n).catch((e: unknown) => e)).toBeInstanceOf(ReserveNotSeenError);
    expect(lost.sent).toHaveLength(2);
  });

  it("retries smaller only when the escrow refused for want of funds; any other failure is told at once", async () => {
    // The devnet's words for a refusal, a sandbox-style error with its code, and a network failure.
    // This chain tells no clock, so a refusal as expired (219) is `clock`: this machine dated it.
    const failures: [unknown, RegExp, string][] = [
      [
        new Error('Received error: {"ok":false,"error":"external message not accepted (exit code 207)"}'),
        /refused to reserve 2000 nanoTON .* \(exit code 207\)/,
        "not-sent",
      ],
      [Object.assign(new Error("transaction aborted"), { exitCode: 219 }), /\(exit code 219\)/, "clock"],
      [new TypeError("fetch failed"), /could not be sent \(the network would not take it\)/, "not-sent"],
    ];
    for (const [failure, message, reason] of failures) {
      const sent: bigint[] = [];
      const chain = {
        send: async (s: SignedReserve) => {
          sent.push(s.reserve.reserved);
          throw failure;
        },
        reserved: async () => 0n,
      };
      const keeper = new ReserveKeeper(stream, key, { chain, ahead: AHEAD, pollMs: 1 });
      const err = await keeper.ensure(0n).catch((e: unknown) => e);
      // One send, the full raise: a smaller one would fail the same way.
      expect(sent).toEqual([2_000n]);
      expect(err).toBeInstanceOf(ReserveNotSeenError);
      expect((err as ReserveNotSeenError).reason).toBe(reason);
      expect((err as ReserveNotSeenError).target).toBe(2_000n);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).cause).toBe(failure);
    }
    // The escrow's own refusal for want of funds (exit code 218, ReserveUnfunded) asks for less.
    const unfunded = fakeChain("lands", 0n, 1_500n);
    const keeper = new ReserveKeeper(stream, key, { chain: unfunded.chain, ahead: AHEAD, pollMs: 1 });
    await keeper.ensure(0n);
    expect(unfunded.sent.map((r) => r.reserve.reserved)).toEqual([2_000n, 1_000n]);
  });

  it("a raise is valid for 50 s, or half the escrow's close delay when the chain tells a shorter one", async () => {
    const validity = async (closeDelay?: () => Promise<number>) => {
      const c = fakeChain();
      const chain = closeDelay ? { ...c.chain, closeDelay } : c.chain;
      const keeper = new ReserveKeeper(stream, key, { chain, ahead: AHEAD, pollMs: 1, now: () => 1_000 });
      await keeper.ensure(0n);
      await keeper.ensure(5_000n); // a second raise: the close delay is not read again
      return c.sent.map((s) => s.reserve.validUntil - 1_000);
    };
    expect(await validity()).toEqual([50, 50]);
    let reads = 0;
    expect(
      await validity(async () => {
        reads++;
        return 30;
      }),
    ).toEqual([15, 15]);
    expect(reads).toBe(1);
    expect(await validity(async () => 3_600)).toEqual([50, 50]);
    expect(await validity(async () => 1)).toEqual([1, 1]);
    // Unreadable: the default, and asked again at the next raise.
    reads = 0;
    expect(
      await validity(async () => {
        reads++;
        throw new Error("unreachable");
      }),
    ).toEqual([50, 50]);
    expect(reads).toBe(2);
  });

  it("the web client's raises (validForS from its page config) are valid exactly as long as the keeper's own on that escrow", async () => {
    const validity = async (o: { closeDelay: number } | { validForS: number }) => {
      const c = fakeChain();
      const chain = "closeDelay" in o ? { ...c.chain, closeDelay: async () => o.closeDelay } : c.chain;
      const validForS = "validForS" in o ? { validForS: o.validForS } : {};
      const keeper = new ReserveKeeper(stream, key, {
        chain,
        ahead: AHEAD,
        pollMs: 1,
        now: () => 1_000,
        ...validForS,
      });
      await keeper.ensure(0n);
      return c.sent.map((s) => s.reserve.validUntil - 1_000);
    };
    // 5 s is the browser tests' devnet; the page's own rule made 4 s of it, the keeper 2 s.
    for (const closeDelay of [1, 2, 5, 30, 60, 101, 3_600]) {
      expect(await validity({ validForS: raiseValidForS(closeDelay) })).toEqual(
        await validity({ closeDelay }),
      );
    }
    expect([5, 60, 3_600].map(raiseValidForS)).toEqual([2, 30, 50]);
  });

  it("raises only what is needed when the escrow cannot fund a raise two steps ahead", async () => {
    const small = fakeChain("lands", 0n, 1_500n);
    const keeper = new ReserveKeeper(stream, key, { chain: small.chain, ahead: AHEAD, pollMs: 1 });
    await keeper.ensure(200n);
    expect(small.sent.map((r) => r.reserve.reserved)).toEqual([2_200n, 1_200n]);
    expect(keeper.reserved).toBe(1_200n);
  });

  it("a new request reads the reserve again: after a withdraw ended it, it is raised anew", async () => {
    const c = fakeChain();
    const keeper = new ReserveKeeper(stream, key, { chain: c.chain, ahead: AHEAD, pollMs: 1, recheckMs: 0 });
    await keeper.ensure(0n, true);
    expect(keeper.reserved).toBe(2_000n);
    c.withdraw();
    // A receipt does not read the chain again (its raise would be one per receipt otherwise)...
    await keeper.ensure(500n);
    expect(c.sent).toHaveLength(1);
    // ...a new request does, and raises what the withdraw ended.
    await keeper.ensure(500n, true);
    expect(c.sent.map((r) => r.reserve.reserved)).toEqual([2_000n, 2_500n]);
    expect(keeper.reserved).toBe(2_500n);
  });
});
