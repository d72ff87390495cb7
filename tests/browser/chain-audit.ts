import type { Address, Transaction } from "@ton/core";
import type { TonClient } from "@ton/ton";
import { loadSignedReceipt, RESERVE_TAG, type Receipt } from "../../protocol";

/**
 * Reading the chain as an auditor would: every amount from the transactions themselves. Shared by
 * the browser tests that reconcile what the pages did on the devnet.
 */

/** Transactions of `address` newer than `afterLt`, oldest first. */
export async function transactionsSince(
  client: TonClient,
  address: Address,
  afterLt: bigint,
): Promise<Transaction[]> {
  const txs = await client.getTransactions(address, { limit: 50 });
  return txs.filter((t) => t.lt > afterLt).reverse();
}

export async function lastLt(client: TonClient, address: Address): Promise<bigint> {
  const [tx] = await client.getTransactions(address, { limit: 1 });
  return tx?.lt ?? 0n;
}

/** Value the transaction's inbound internal message brought in (0 for an external one). */
export function valueIn(tx: Transaction): bigint {
  const info = tx.inMessage?.info;
  return info?.type === "internal" ? info.value.coins : 0n;
}

/** Each outbound internal message: its value and the forwarding fee its sender paid on top. */
export function internalOut(tx: Transaction): { to: Address; value: bigint; forwardFee: bigint }[] {
  return [...tx.outMessages.values()].flatMap((m) =>
    m.info.type === "internal"
      ? [{ to: m.info.dest, value: m.info.value.coins, forwardFee: m.info.forwardFee }]
      : [],
  );
}

/** Storage rent the transaction collected. */
export function rentOf(tx: Transaction): bigint {
  const d = tx.description;
  return d.type === "generic" ? (d.storagePhase?.storageFeesCollected ?? 0n) : 0n;
}

/**
 * What the transaction did to its account's balance: value in, less what it sent (each message's
 * value and forwarding fee), less its fees (rent, gas, import, actions).
 */
export function balanceChange(tx: Transaction): bigint {
  const out = internalOut(tx).reduce((sum, m) => sum + m.value + m.forwardFee, 0n);
  return valueIn(tx) - out - tx.totalFees.coins;
}

/** Everything the transaction cost its account in fees: its own plus the forwarding of what it sent. */
export function feesOf(tx: Transaction): bigint {
  return tx.totalFees.coins + internalOut(tx).reduce((sum, m) => sum + m.forwardFee, 0n);
}

/**
 * Whether the transaction is a reserve raise: an external message laid out as a signed receipt
 * (signature, session key, a ref) whose ref is a reserve. It pays no one; the escrow pays its gas.
 */
export function isReserveRaise(tx: Transaction): boolean {
  const msg = tx.inMessage;
  if (msg?.info.type !== "external-in") return false;
  const body = msg.body.beginParse();
  return body.remainingRefs === 1 && body.loadRef().beginParse().preloadUint(32) === RESERVE_TAG;
}

/** The receipt an external claim carried (its body is exactly the signed receipt), or undefined. */
export function claimedReceipt(tx: Transaction): Receipt | undefined {
  const msg = tx.inMessage;
  if (msg?.info.type !== "external-in" || isReserveRaise(tx)) return undefined;
  return loadSignedReceipt(msg.body.beginParse()).receipt;
}

export interface ClaimAudit {
  /** The claim's receipt, read from the external message. */
  readonly receipt: Receipt;
  /** What this claim added to the stream's paid total: receipt amount − paid before. */
  readonly paid: bigint;
  /** Storage rent the escrow paid for its own account in the same transaction. */
  readonly rent: bigint;
  /** Gas, import and forwarding fees of the claim, all out of the receipt (the provider held no TON). */
  readonly claimFees: bigint;
  /** What the payout message carried. */
  readonly payoutValue: bigint;
}

/**
 * Every claim in the escrow's transactions, checked one by one: the escrow paid exactly the new
 * part of the receipt plus its own rent, and the payout message carried that part less the claim's
 * fees. `paidBefore` is the stream's paid total before the first of them.
 */
export function auditClaims(
  escrowTxs: readonly Transaction[],
  payout: Address,
  paidBefore = 0n,
): ClaimAudit[] {
  const claims: ClaimAudit[] = [];
  let paid = paidBefore;
  for (const tx of escrowTxs) {
    const receipt = claimedReceipt(tx);
    if (!receipt) continue;
    const [out, ...more] = internalOut(tx);
    if (!out || more.length > 0 || !out.to.equals(payout))
      throw new Error("a claim must send one payout message");
    const rent = rentOf(tx);
    const claim: ClaimAudit = {
      receipt,
      paid: receipt.amount - paid,
      rent,
      claimFees: tx.totalFees.coins - rent + out.forwardFee,
      payoutValue: out.value,
    };
    if (balanceChange(tx) !== -(claim.paid + rent))
      throw new Error("the escrow paid other than receipt + rent");
    if (claim.payoutValue + claim.claimFees !== claim.paid) throw new Error("payout + fees ≠ what was paid");
    claims.push(claim);
    paid = receipt.amount;
  }
  return claims;
}

/** Reads the balance's rise on `address` since `afterLt` from its transactions. */
export async function balanceChangeSince(client: TonClient, address: Address, afterLt: bigint) {
  const txs = await transactionsSince(client, address, afterLt);
  return { txs, change: txs.reduce((sum, tx) => sum + balanceChange(tx), 0n) };
}
