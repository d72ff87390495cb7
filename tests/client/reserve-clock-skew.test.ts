import { describe, expect, it } from "vitest";
import { ReserveKeeper, ReserveNotSeenError } from "../../client/sdk/reserve-keeper";
import { NETWORK_ID } from "../../protocol/receipt";
import type { SignedReserve } from "../../protocol/reserve";
import { type EscrowFixture, freshEscrowForEachTest, T0 } from "../contracts/escrow-fixture";

/**
 * The requester's clock is off from the chain's (the escrow compiled from source in @ton/sandbox,
 * its clock at T0). A raise of the reserve is dated by the requester's clock, and the escrow takes
 * one only while valid, for less than its close delay: a clock far enough off makes every raise
 * refused. With a chain that tells its clock (`tonReserveChain`), raises are dated by it and land;
 * without, what the user reads must say so (this machine's clock), not only an exit code.
 */
let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

/** The chain's clock as `keeper` is told it: read from the sandbox, failing, never answering, or not offered. */
type Clock = boolean | "fails" | "silent";

function keeper(clock: number, chainClock: Clock = false) {
  const stream = {
    network: NETWORK_ID.devnet,
    escrow: f.escrow.address,
    payout: f.provider.address,
    keyEpoch: 1,
  };
  return new ReserveKeeper(stream, f.key, {
    // The escrow through its sandbox wrapper, which runs the chain's queue for each message.
    chain: {
      send: async (signed: SignedReserve) => {
        await f.escrow.sendReserve(signed);
      },
      reserved: async () => (await f.escrow.getReserve(1, f.provider.address)).reserved,
      closeDelay: async () => (await f.escrow.getEscrowData()).closeDelay,
      // The chain's clock, as `tonReserveChain` reads it (an account's sync time), when it is told.
      ...(chainClock === true && { clock: async () => f.blockchain.now ?? 0 }),
      ...(chainClock === "fails" && {
        clock: async () => {
          throw new Error("the endpoint answered 500");
        },
      }),
      ...(chainClock === "silent" && { clock: () => new Promise<number>(() => undefined) }),
    },
    ahead: 1_000_000n,
    pollMs: 1,
    deadlineMs: 2_000,
    clockMs: 1_000,
    now: () => clock,
  });
}

describe("a requester whose clock is off from the chain's", () => {
  it.each([
    ["2 minutes behind", T0 - 120],
    ["2 hours ahead (past the escrow's 1 h close delay)", T0 + 7_200],
  ])("%s: the refused raise names this machine's clock as the likely cause", async (_name, clock) => {
    const err = await keeper(clock)
      .ensure(0n)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReserveNotSeenError);
    // This chain offers no clock: the refusal says so (CLOCK_UNCHECKED), with the date it gave.
    expect((err as ReserveNotSeenError).reason).toBe("clock");
    const message = (err as Error).message;
    expect(message).toMatch(/exit code 219/);
    expect(message).toMatch(/this machine's clock/);
    expect(message).toContain(new Date((clock + 50) * 1000).toISOString());
  });

  it("a clock a few seconds off still raises", async () => {
    const k = keeper(T0 - 5);
    await k.ensure(0n);
    expect(k.reserved).toBe(2_000_000n);
  });

  it.each([
    ["2 minutes behind", T0 - 120],
    ["2 hours ahead", T0 + 7_200],
  ])("%s, with a chain that tells its clock: the raise is dated by it and lands", async (_name, clock) => {
    const k = keeper(clock, true);
    await k.ensure(0n);
    expect(k.reserved).toBe(2_000_000n);
  });

  it.each([
    ["offers no clock", false],
    ["fails to tell its clock", "fails"],
    ["never answers for its clock", "silent"],
  ] as const)(
    "2 hours ahead, with a chain that %s: the refusal says the clock could not be checked (CLOCK_UNCHECKED, not TIMEOUT)",
    async (_name, chain) => {
      const err = await keeper(T0 + 7_200, chain)
        .ensure(0n)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReserveNotSeenError);
      expect(err).toMatchObject({ reason: "clock", code: "CLOCK_UNCHECKED" });
      const message = (err as Error).message;
      expect(message).toMatch(/exit code 219/);
      expect(message).toMatch(/the chain's clock could not be checked/);
      expect(message).toMatch(/this machine's clock/);
    },
  );
});
