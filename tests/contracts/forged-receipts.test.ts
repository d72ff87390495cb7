import { toNano } from "@ton/core";
import { describe, expect, it } from "vitest";
import { compiled } from "../../contracts/compile";
import { EscrowError } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID, type SignedReceipt } from "../../protocol/receipt";
import { CLOSE_DELAY, DEPOSIT, type EscrowFixture, freshEscrowForEachTest } from "./escrow-fixture";
import { expectExit, expectExternalRefused, expectSuccess } from "./helpers";

/**
 * An outsider's forgeries and replays, claimed against the escrow compiled from source, externally
 * (gas from the escrow) and by an internal message (gas from the sender). Each is refused by its
 * exit code, the escrow's balance and its paid total for the provider do not move, and the
 * provider's honest receipt still pays after all of them.
 */
let f: EscrowFixture;
freshEscrowForEachTest((fixture) => {
  f = fixture;
});

const paidToProvider = () => f.escrow.getPaid(1, f.provider.address);

async function refused(signed: SignedReceipt, code: number): Promise<void> {
  const before = { balance: await f.balance(), paid: await paidToProvider() };
  await expectExternalRefused(f.escrow.sendExternalClaim(signed), code);
  const r = await f.escrow.sendClaim(f.stranger.getSender(), { signed, value: toNano("0.05") });
  expectExit(r.transactions, f.escrow.address, code);
  expect({ balance: await f.balance(), paid: await paidToProvider() }).toEqual(before);
}

describe("forged and replayed receipts against the escrow", () => {
  it("a receipt of one session key presented as another authorised key's is refused BadSignature", async () => {
    const other = generateKeyPair();
    expectSuccess(
      (await f.escrow.sendAddKey(f.owner.getSender(), { key: other.publicKey, value: toNano("0.05") }))
        .transactions,
      f.escrow.address,
    );
    const keyEpoch = (await f.escrow.getKey(other.publicKey))!.epoch;
    const mine = f.receipt(toNano("1"), { keyEpoch });
    await refused({ ...mine, sessionKey: other.publicKey }, EscrowError.BadSignature);
    // And the other key signing for this one's stream: a receipt only ever counts as its signer's.
    const theirs = f.receipt(toNano("1"), {}, other);
    await refused({ ...theirs, sessionKey: f.key.publicKey }, EscrowError.BadSignature);
  });

  it("counts changed after signing (tokens or amount, up or down) are refused BadSignature", async () => {
    const good = f.receipt(toNano("1"));
    for (const change of [
      { amount: toNano("2") },
      { amount: toNano("0.5") },
      { tokens: good.receipt.tokens + 1n },
      { tokens: good.receipt.tokens - 1n },
    ]) {
      await refused({ ...good, receipt: { ...good.receipt, ...change } }, EscrowError.BadSignature);
    }
    // The key epoch is checked against the key's own before the signature.
    await refused({ ...good, receipt: { ...good.receipt, keyEpoch: 2 } }, EscrowError.WrongEpoch);
  });

  it("out of order: after a newer receipt is paid, an older one, or one with more tokens for less, pays nothing", async () => {
    const newer = f.receipt(toNano("2"), { tokens: 2_000n });
    const r = await f.escrow.sendClaim(f.provider.getSender(), { signed: newer, value: toNano("0.05") });
    expectSuccess(r.transactions, f.escrow.address);
    expect(await paidToProvider()).toBe(toNano("2"));
    await refused(f.receipt(toNano("1"), { tokens: 1_000n }), EscrowError.NothingNew);
    await refused(f.receipt(toNano("1.5"), { tokens: 9_000n }), EscrowError.NothingNew);
    await refused(newer, EscrowError.NothingNew);
  });

  it("a receipt for the escrow's whole balance, or past it, is refused InsufficientBalance", async () => {
    await refused(f.receipt(await f.balance()), EscrowError.InsufficientBalance);
    await refused(f.receipt(DEPOSIT * 2n), EscrowError.InsufficientBalance);
  });

  it("a receipt replayed across escrows holding the same session key is refused WrongEscrow by the other", async () => {
    const { code } = await compiled("escrow");
    const second = f.blockchain.openContract(
      Escrow.createFromConfig(
        { owner: f.stranger.address, network: NETWORK_ID.devnet, closeDelay: CLOSE_DELAY },
        code,
      ),
    );
    const deployed = await second.sendAddKey(f.stranger.getSender(), {
      key: f.key.publicKey,
      value: DEPOSIT,
    });
    expectSuccess(deployed.transactions, second.address);
    const receipt = f.receipt(toNano("1"));
    expectSuccess(
      (await f.escrow.sendClaim(f.provider.getSender(), { signed: receipt, value: toNano("0.05") }))
        .transactions,
      f.escrow.address,
    );
    const before = await f.balance(second.address);
    await expectExternalRefused(second.sendExternalClaim(receipt), EscrowError.WrongEscrow);
    const r = await second.sendClaim(f.provider.getSender(), { signed: receipt, value: toNano("0.05") });
    expectExit(r.transactions, second.address, EscrowError.WrongEscrow);
    expect(await f.balance(second.address)).toBe(before);
    expect(await second.getPaid(1, f.provider.address)).toBe(0n);
  });

  it("a raise replayed after it landed, or an older one, is refused ReserveNotRaised at no cost", async () => {
    const older = f.reserve(toNano("1"));
    const newer = f.reserve(toNano("2"));
    await f.escrow.sendReserve(older);
    await f.escrow.sendReserve(newer);
    const before = await f.balance();
    await expectExternalRefused(f.escrow.sendReserve(newer), EscrowError.ReserveNotRaised);
    await expectExternalRefused(f.escrow.sendReserve(older), EscrowError.ReserveNotRaised);
    expect(await f.balance()).toBe(before);
  });

  it("after every forgery above, the provider's honest receipt is paid in full", async () => {
    await refused(f.receipt(toNano("1"), {}, generateKeyPair()), EscrowError.UnknownKey);
    await refused(f.receipt(toNano("1"), { escrow: f.stranger.address }), EscrowError.WrongEscrow);
    await refused(f.receipt(toNano("1"), { network: NETWORK_ID.mainnet }), EscrowError.WrongNetwork);
    const before = await f.balance(f.provider.address);
    const r = await f.escrow.sendClaim(f.provider.getSender(), {
      signed: f.receipt(toNano("1")),
      value: toNano("0.05"),
    });
    expectSuccess(r.transactions, f.escrow.address);
    expect(await paidToProvider()).toBe(toNano("1"));
    expect((await f.balance(f.provider.address)) - before).toBeGreaterThan(toNano("0.99"));
  });
});
