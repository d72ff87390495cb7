import { type Address, fromNano } from "@ton/core";
import type { BlockchainTransaction } from "@ton/sandbox";
import { EmulationError } from "@ton/sandbox";
import { expect } from "vitest";

/** The transaction on `to` (and, when given, from `from`), failing the test when there is none. */
export function txOn(txs: BlockchainTransaction[], to: Address, from?: Address): BlockchainTransaction {
  const tx = txs.find((t) => {
    const info = t.inMessage?.info;
    if (!info?.dest || !("equals" in info.dest) || !info.dest.equals(to)) return false;
    if (!from) return true;
    return info.type === "internal" && info.src.equals(from);
  });
  if (!tx) throw new Error(`no transaction on ${to.toString()}`);
  return tx;
}

export function computeOf(tx: BlockchainTransaction): {
  exitCode: number;
  gasUsed: bigint;
  success: boolean;
} {
  if (tx.description.type !== "generic") throw new Error("not a generic transaction");
  const cp = tx.description.computePhase;
  if (cp.type !== "vm") return { exitCode: -1, gasUsed: 0n, success: false };
  return { exitCode: cp.exitCode, gasUsed: cp.gasUsed, success: cp.success };
}

/** Asserts the transaction on `to` ended in the named exit code (and so was rolled back). */
export function expectExit(txs: BlockchainTransaction[], to: Address, code: number): BlockchainTransaction {
  const tx = txOn(txs, to);
  expect(computeOf(tx).exitCode).toBe(code);
  return tx;
}

export function expectSuccess(txs: BlockchainTransaction[], to: Address): BlockchainTransaction {
  const tx = txOn(txs, to);
  const cp = computeOf(tx);
  expect(cp.exitCode, `exit code on ${to.toString()}`).toBe(0);
  if (tx.description.type === "generic") expect(tx.description.actionPhase?.success ?? true).toBe(true);
  return tx;
}

/** Asserts that an external message was refused (never accepted) with the named exit code. */
export async function expectExternalRefused(send: Promise<unknown>, code: number): Promise<void> {
  const err = await send.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "external message should have been refused").toBeInstanceOf(EmulationError);
  expect((err as EmulationError).exitCode).toBe(code);
}

/** Value carried by the first internal message a transaction sent. */
export function firstOutValue(tx: BlockchainTransaction): {
  value: bigint;
  forwardFee: bigint;
  dest: Address;
} {
  const msg = tx.outMessages.get(0);
  if (msg?.info.type !== "internal") throw new Error("no internal out message");
  return { value: msg.info.value.coins, forwardFee: msg.info.forwardFee, dest: msg.info.dest };
}

export function ton(n: bigint): string {
  return fromNano(n);
}
