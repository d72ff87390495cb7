/**
 * Gas of every Escrow operation, in the emulator at its bundled (mainnet) basechain config,
 * against the baseline of a plain wallet v5 transfer measured in the same run. Fees are exact:
 * they are read from the transactions, not estimated.
 */
import { type Address, fromNano, internal, SendMode, type Transaction, toNano } from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import { Blockchain, type SendMessageResult } from "@ton/sandbox";
import { WalletContractV5R1 } from "@ton/ton";
import { compiled } from "../contracts/compile";
import { EscrowParams } from "../contracts/generated/constants";
import { Escrow } from "../contracts/wrappers/escrow";
import { generateKeyPair } from "../protocol/identity";
import { NETWORK_ID, signReceipt } from "../protocol/receipt";
import { printTable } from "./table";

const PRICE = 10_000n; // nanoTON per token

function on(r: SendMessageResult, address: Address): Transaction {
  const tx = r.transactions.find(
    (t) =>
      t.inMessage?.info.dest && "equals" in t.inMessage.info.dest && t.inMessage.info.dest.equals(address),
  );
  if (!tx) throw new Error("no transaction on the contract");
  return tx;
}

function row(op: string, tx: Transaction, note = "") {
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

export default async function gasBench(): Promise<void> {
  const { code } = await compiled("escrow");
  const blockchain = await Blockchain.create();
  const owner = await blockchain.treasury("owner");
  const payer = await blockchain.treasury("payer");

  // Baseline: a wallet v5 sending one transfer.
  const keys = await mnemonicToPrivateKey(await mnemonicNew());
  const wallet = blockchain.openContract(
    WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }),
  );
  await payer.send({ to: wallet.address, value: toNano("10"), init: wallet.init, bounce: false });
  await wallet.sendTransfer({
    seqno: 0,
    secretKey: keys.secretKey,
    sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
    messages: [internal({ to: payer.address, value: toNano("1"), bounce: false })],
  });
  const w5 = await wallet.sendTransfer({
    seqno: 1,
    secretKey: keys.secretKey,
    sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
    messages: [internal({ to: payer.address, value: toNano("1"), bounce: false })],
  });
  const rows = [row("wallet v5 transfer (baseline)", on(w5, wallet.address), "external, one message")];

  const escrow = blockchain.openContract(
    Escrow.createFromConfig({ owner: owner.address, network: NETWORK_ID.devnet, closeDelay: 86_400 }, code),
  );
  const older = generateKeyPair();
  const key = generateKeyPair();
  const provider = await blockchain.treasury("provider");
  const other = await blockchain.treasury("other-provider");
  // Receipts of the most recent key (epoch 2) unless told otherwise.
  const receipt = (tokens: bigint, payout: Address = provider.address, k = key, epoch = 2) =>
    signReceipt(
      {
        network: NETWORK_ID.devnet,
        escrow: escrow.address,
        payout,
        keyEpoch: epoch,
        tokens,
        amount: tokens * PRICE,
      },
      k,
    );

  rows.push(
    row(
      "deploy + add key + deposit",
      on(
        await escrow.sendAddKey(owner.getSender(), { key: older.publicKey, value: toNano("100") }),
        escrow.address,
      ),
      "first message",
    ),
  );
  rows.push(
    row("deposit (top-up)", on(await escrow.sendDeposit(payer.getSender(), toNano("10")), escrow.address)),
  );
  rows.push(
    row(
      "add key",
      on(
        await escrow.sendAddKey(owner.getSender(), { key: key.publicKey, value: toNano("0.05") }),
        escrow.address,
      ),
      "the earlier key moves to the dictionary",
    ),
  );

  // Claims of the most recent key: the common case. The escrow's first claim takes the empty
  // hot slot; the next receipt of the same stream finds it there.
  const settle = blockchain.snapshot();
  const settled: ReturnType<typeof row>[] = [];
  for (const tokens of [1_000n, 100_000n]) {
    await blockchain.loadFrom(settle);
    settled.push(
      row(
        `claim (external), ${tokens} tokens`,
        on(await escrow.sendExternalClaim(receipt(tokens)), escrow.address),
        `escrow's first claim, ${fromNano(tokens * PRICE)} TON`,
      ),
    );
  }
  await blockchain.loadFrom(settle);
  await escrow.sendExternalClaim(receipt(1_000n));
  const hot = blockchain.snapshot();
  settled.push(
    row(
      "claim (external), next receipt",
      on(await escrow.sendExternalClaim(receipt(101_000n)), escrow.address),
      "same stream, +100,000 tokens",
    ),
  );
  // Off the hot slot: another stream of the same key epoch goes into the paid dictionary (one of a
  // newer epoch would take the slot); an older key is read from the keys dictionary.
  await blockchain.loadFrom(hot);
  settled.push(
    row(
      "claim (external), another stream",
      on(await escrow.sendExternalClaim(receipt(1_000n, other.address)), escrow.address),
      "first claim of a 2nd stream (same key): in the dictionary",
    ),
  );
  settled.push(
    row(
      "claim (external), back to the 1st",
      on(await escrow.sendExternalClaim(receipt(2_000n)), escrow.address),
      "streams alternating: the 1st is still hot",
    ),
  );
  await blockchain.loadFrom(hot);
  await escrow.sendExternalClaim(receipt(1_000n, provider.address, older, 1));
  settled.push(
    row(
      "claim (external), older key",
      on(await escrow.sendExternalClaim(receipt(2_000n, provider.address, older, 1)), escrow.address),
      "next receipt, key read from the dictionary",
    ),
  );
  rows.push(...settled);
  await blockchain.loadFrom(hot);
  await escrow.sendExternalClaim(receipt(101_000n));
  rows.push(
    row(
      "claim (internal)",
      on(
        await escrow.sendClaim(payer.getSender(), { signed: receipt(102_000n), value: toNano("0.05") }),
        escrow.address,
      ),
      "sender pays gas from 0.05 TON",
    ),
  );
  rows.push(
    row(
      "revoke key",
      on(
        await escrow.sendRevokeKey(owner.getSender(), { key: older.publicKey, value: toNano("0.05") }),
        escrow.address,
      ),
      "a key in the dictionary",
    ),
  );
  rows.push(row("close", on(await escrow.sendClose(owner.getSender(), toNano("0.05")), escrow.address)));
  blockchain.now = Math.floor(Date.now() / 1000) + 86_401;
  rows.push(
    row(
      "withdraw",
      on(await escrow.sendWithdraw(owner.getSender(), toNano("0.05")), escrow.address),
      "everything but the storage reserve",
    ),
  );
  printTable(
    `Escrow gas (claim gas limit ${EscrowParams.CLAIM_GAS_LIMIT}; external-claim fees come out of the payout)`,
    rows,
  );

  // The next receipt of the hot stream costs the same however many streams the escrow holds;
  // the first claim of a new stream (or one for a stream that is not hot) moves the hot one
  // into the paid dictionary and takes the claimed one out, so it grows with the dictionary
  // (one more trie level per doubling), never with tokens. An external claim does all its
  // checks and its state update within the 10,000 gas credit; past that, it is refused at no
  // cost and an internal claim (gas paid by the sender) settles it instead.
  const bc = await Blockchain.create();
  const o2 = await bc.treasury("owner");
  const payer2 = await bc.treasury("payer");
  const e2 = bc.openContract(
    Escrow.createFromConfig({ owner: o2.address, network: NETWORK_ID.devnet, closeDelay: 86_400 }, code),
  );
  await e2.sendAddKey(o2.getSender(), { key: key.publicKey, value: toNano("100000") });
  const sign = (payout: Address, tokens = 1_000n) =>
    signReceipt(
      {
        network: NETWORK_ID.devnet,
        escrow: e2.address,
        payout,
        keyEpoch: 1,
        tokens,
        amount: tokens * PRICE,
      },
      key,
    );
  const streams: Record<string, string | number>[] = [];
  // An external claim when it fits the gas credit; otherwise the internal claim that replaces it.
  const externalOrInternal = async (what: string, signed: ReturnType<typeof sign>, note: string) => {
    try {
      return row(`claim (external), ${what}`, on(await e2.sendExternalClaim(signed), e2.address), note);
    } catch {
      const r = await e2.sendClaim(payer2.getSender(), { signed, value: toNano("0.05") });
      return row(
        `claim (internal), ${what}`,
        on(r, e2.address),
        `${note}; external refused: over the credit`,
      );
    }
  };
  const first = await bc.treasury("p1");
  for (let n = 1; n <= 4096; n++) {
    const p = n === 1 ? first : await bc.treasury(`p${n}`);
    try {
      const tx = on(await e2.sendExternalClaim(sign(p.address)), e2.address);
      if ((n & (n - 1)) === 0) {
        streams.push(
          row(`claim (external), stream #${n}`, tx, `its first claim; ${n - 1} streams already paid`),
        );
      }
      if (n === 32) {
        const at = bc.snapshot();
        streams.push(
          row(
            "claim (external), next receipt",
            on(await e2.sendExternalClaim(sign(p.address, 2_000n)), e2.address),
            "of stream #32, 32 streams paid",
          ),
        );
        streams.push(
          await externalOrInternal("stream #1 again", sign(first.address, 2_000n), "32 streams paid"),
        );
        await bc.loadFrom(at);
      }
    } catch {
      const tx = on(
        await e2.sendClaim(payer2.getSender(), { signed: sign(p.address), value: toNano("0.05") }),
        e2.address,
      );
      streams.push(
        row(`claim (internal), stream #${n}`, tx, "first external claim refused: over the gas credit"),
      );
      break;
    }
  }
  printTable("Claim gas by number of streams already in the escrow (random payout addresses)", streams);
}
