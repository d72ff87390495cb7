/** One gas-table row per transaction, read from the transaction itself (shared by the gas benches). */
import { type Address, fromNano, internal, SendMode, type Transaction, toNano } from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import type { Blockchain, SandboxContract, SendMessageResult, TreasuryContract } from "@ton/sandbox";
import { WalletContractV5R1 } from "@ton/ton";

export function on(r: SendMessageResult, address: Address): Transaction {
  const tx = r.transactions.find(
    (t) =>
      t.inMessage?.info.dest && "equals" in t.inMessage.info.dest && t.inMessage.info.dest.equals(address),
  );
  if (!tx) throw new Error("no transaction on the contract");
  return tx;
}

export function row(op: string, tx: Transaction, note = "") {
  if (tx.description.type !== "generic" || tx.description.computePhase.type !== "vm")
    throw new Error("no compute phase");
  const cp = tx.description.computePhase;
  if (!cp.success) throw new Error(`${op} failed with exit code ${cp.exitCode}`);
  const out = tx.outMessages.get(0);
  const fwd = out?.info.type === "internal" ? out.info.forwardFee : 0n;
  return {
    operation: op,
    gas: Number(cp.gasUsed),
    "gas fee, TON": fromNano(cp.gasFees),
    "all fees, TON": fromNano(tx.totalFees.coins + fwd),
    note,
  };
}

/** The baseline row of every gas table: a wallet v5 sending one transfer (its second, seqno 1). */
export async function walletBaseline(
  blockchain: Blockchain,
  payer: SandboxContract<TreasuryContract>,
): Promise<ReturnType<typeof row>> {
  const keys = await mnemonicToPrivateKey(await mnemonicNew());
  const wallet = blockchain.openContract(
    WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }),
  );
  await payer.send({ to: wallet.address, value: toNano("10"), init: wallet.init, bounce: false });
  const transfer = (seqno: number) =>
    wallet.sendTransfer({
      seqno,
      secretKey: keys.secretKey,
      sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
      messages: [internal({ to: payer.address, value: toNano("1"), bounce: false })],
    });
  await transfer(0);
  return row("wallet v5 transfer (baseline)", on(await transfer(1), wallet.address), "external, one message");
}
