/**
 * Gas of every Escrow operation, in the emulator at its bundled (mainnet) basechain config,
 * against the baseline of a plain wallet v5 transfer measured in the same run. Fees are exact:
 * they are read from the transactions, not estimated.
 */
import { type Address, fromNano, toNano } from "@ton/core";
import { Blockchain } from "@ton/sandbox";
import { compiled } from "../contracts/compile";
import { EscrowParams } from "../contracts/generated/constants";
import { Escrow } from "../contracts/wrappers/escrow";
import { generateKeyPair } from "../protocol/identity";
import { NETWORK_ID, signReceipt } from "../protocol/receipt";
import { signReserve } from "../protocol/reserve";
import { on, row, walletBaseline } from "./gas-rows";
import { printTable } from "./table";

const PRICE = 10_000n; // nanoTON per token

export default async function gasBench(): Promise<void> {
  const { code } = await compiled("escrow");
  const blockchain = await Blockchain.create();
  const owner = await blockchain.treasury("owner");
  const payer = await blockchain.treasury("payer");

  const rows = [await walletBaseline(blockchain, payer)];

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

  // Reserves: a raise is an external the escrow pays for; while any stream has a reserve left,
  // every claim takes the reserve-aware path (it reads the claimed stream's reserve).
  const raise = (reserved: bigint, payout: Address = provider.address) =>
    signReserve(
      {
        network: NETWORK_ID.devnet,
        escrow: escrow.address,
        payout,
        keyEpoch: 2,
        validUntil: blockchain.now ?? Math.floor(Date.now() / 1000) + 600,
        reserved,
      },
      key,
    );
  await blockchain.loadFrom(hot);
  const reservedRows = [
    row(
      "reserve raise, first",
      on(await escrow.sendReserve(raise(toNano("5"))), escrow.address),
      "the hot stream",
    ),
    row(
      "reserve raise, next",
      on(await escrow.sendReserve(raise(toNano("6"))), escrow.address),
      "same stream, cumulative",
    ),
    row(
      "reserve raise, 2nd stream",
      on(await escrow.sendReserve(raise(toNano("3"), other.address)), escrow.address),
      "a stream not yet claimed",
    ),
    row(
      "claim (external), reserved, hot",
      on(await escrow.sendExternalClaim(receipt(201_000n)), escrow.address),
      "next receipt of the hot stream, paid from its reserve",
    ),
    row(
      "claim (external), reserved, 2nd",
      on(await escrow.sendExternalClaim(receipt(100_000n, other.address)), escrow.address),
      "first claim of a 2nd stream (dictionary), from its reserve",
    ),
    row(
      "claim (external), reserved, 2nd again",
      on(await escrow.sendExternalClaim(receipt(200_000n, other.address)), escrow.address),
      "its next receipt, in the dictionary",
    ),
  ];
  rows.push(...reservedRows);
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

  // The same with a reserve left somewhere (locked > 0): every claim reads its stream's reserve.
  const bc3 = await Blockchain.create();
  const o3 = await bc3.treasury("owner");
  const payer3 = await bc3.treasury("payer");
  const e3 = bc3.openContract(
    Escrow.createFromConfig({ owner: o3.address, network: NETWORK_ID.devnet, closeDelay: 86_400 }, code),
  );
  await e3.sendAddKey(o3.getSender(), { key: key.publicKey, value: toNano("100000") });
  const sign3 = (payout: Address, tokens = 1_000n) =>
    signReceipt(
      { network: NETWORK_ID.devnet, escrow: e3.address, payout, keyEpoch: 1, tokens, amount: tokens * PRICE },
      key,
    );
  const keeper = await bc3.treasury("keeper");
  await e3.sendReserve(
    signReserve(
      {
        network: NETWORK_ID.devnet,
        escrow: e3.address,
        payout: keeper.address,
        keyEpoch: 1,
        validUntil: Math.floor(Date.now() / 1000) + 600,
        reserved: toNano("1"),
      },
      key,
    ),
  );
  const reservedStreams: Record<string, string | number>[] = [];
  for (let n = 1; n <= 4096; n++) {
    const p = await bc3.treasury(`r${n}`);
    try {
      const tx = on(await e3.sendExternalClaim(sign3(p.address)), e3.address);
      if ((n & (n - 1)) === 0)
        reservedStreams.push(
          row(`claim (external), stream #${n}`, tx, `its first claim; ${n - 1} streams paid`),
        );
    } catch {
      const tx = on(
        await e3.sendClaim(payer3.getSender(), { signed: sign3(p.address), value: toNano("0.05") }),
        e3.address,
      );
      reservedStreams.push(
        row(`claim (internal), stream #${n}`, tx, "first external claim refused: over the gas credit"),
      );
      break;
    }
  }
  printTable("The same, while another stream holds a reserve (every claim reads its own)", reservedStreams);
}
