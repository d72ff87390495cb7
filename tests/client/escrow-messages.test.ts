import { Address, Cell, loadStateInit } from "@ton/core";
import { describe, expect, it } from "vitest";
import {
  AmountError,
  EscrowAccount,
  MIN_DEPOSIT,
  OWNER_OP_VALUE,
  parseTonAmount,
} from "../../client/web/escrow";
import { compiled } from "../../contracts/compile";
import { EscrowOp } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair, NETWORK_ID } from "../../protocol";

const owner = Address.parse(`0:${"12".repeat(32)}`);

describe("the web client's escrow transactions", () => {
  it("parses TON amounts exactly, refusing floats' habits and amounts under the minimum", () => {
    expect(parseTonAmount("2")).toBe(2_000_000_000n);
    expect(parseTonAmount("0.123456789")).toBe(123_456_789n);
    expect(parseTonAmount(" 1,5 ")).toBe(1_500_000_000n);
    for (const bad of ["", "1e9", "-1", "0.1234567891", "abc"])
      expect(() => parseTonAmount(bad)).toThrow(AmountError);
    expect(() => parseTonAmount("0.01")).toThrow(/at least 0.1 TON/);
    expect(parseTonAmount("0.1")).toBe(MIN_DEPOSIT);
  });

  it("builds real cells: the deposit deploys the wrapper's escrow and carries add_key with this browser's key", async () => {
    const code = (await compiled("escrow")).code;
    const config = {
      globalId: NETWORK_ID.devnet,
      escrowCode: code.toBoc().toString("base64"),
      closeDelay: 60,
    };
    const account = new EscrowAccount(config, owner);
    const expected = Escrow.createFromConfig({ owner, network: NETWORK_ID.devnet, closeDelay: 60 }, code);
    expect(account.address).toBe(expected.address.toRawString());

    const key = generateKeyPair().publicKey;
    const [deposit] = account.depositTx(key, 3_000_000_000n).messages;
    expect(deposit!.amount).toBe(3_000_000_000n);
    const init = loadStateInit(Cell.fromBase64(deposit!.stateInit!).beginParse());
    expect(init.code!.equals(code)).toBe(true);
    expect(init.data!.equals(expected.init!.data)).toBe(true);
    const body = Cell.fromBase64(deposit!.payload!).beginParse();
    expect(body.loadUint(32)).toBe(EscrowOp.AddKey);
    body.loadUint(64);
    expect(new Uint8Array(body.loadBuffer(32))).toEqual(key);

    const ops = [
      [account.topUpTx(MIN_DEPOSIT), EscrowOp.Deposit, MIN_DEPOSIT],
      [account.closeTx(), EscrowOp.Close, OWNER_OP_VALUE],
      [account.withdrawTx(), EscrowOp.Withdraw, OWNER_OP_VALUE],
    ] as const;
    for (const [tx, op, amount] of ops) {
      const [m] = tx.messages;
      expect(m!.stateInit).toBeUndefined();
      expect(m!.amount).toBe(amount);
      expect(Cell.fromBase64(m!.payload!).beginParse().loadUint(32)).toBe(op);
    }
  });
});
