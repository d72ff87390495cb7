import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Address, Cell, type Transaction, toNano } from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { EscrowParams } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID, signReceipt } from "../../protocol/receipt";

/**
 * The same client code as testnet or mainnet (TonClient, wallet v5, the Escrow wrapper), only
 * pointed at the devnet's URL: deposit, claim twice, close, withdraw, restart; every balance
 * reconciles to the nanoTON with the receipts and the fees.
 */
const dataDir = mkdtempSync(join(tmpdir(), "silk-devnet-"));
// Starts at the real time (wallets sign a validUntil from Date.now()), then moves by hand.
let now = Math.floor(Date.now() / 1000);
const clock = () => now;
let devnet: Devnet;
let client: TonClient;

beforeAll(async () => {
  devnet = await startDevnet({ dataDir, clock });
  client = new TonClient({ endpoint: devnet.endpoint });
});
afterAll(async () => {
  await devnet?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function lastTx(address: Address): Promise<Transaction> {
  const [tx] = await client.getTransactions(address, { limit: 1 });
  if (!tx) throw new Error("no transaction");
  return tx;
}

function outOf(tx: Transaction): { value: bigint; forwardFee: bigint } {
  const m = tx.outMessages.get(0);
  if (m?.info.type !== "internal") throw new Error("no internal out message");
  return { value: m.info.value.coins, forwardFee: m.info.forwardFee };
}

describe("devnet behind TonClient", () => {
  it("deposits, claims and withdraws; balances reconcile to the nanoTON; state survives a restart", async () => {
    const keys = await mnemonicToPrivateKey(await mnemonicNew());
    const wallet = client.open(WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }));
    const providerKeys = await mnemonicToPrivateKey(await mnemonicNew());
    const payout = WalletContractV5R1.create({ publicKey: providerKeys.publicKey, workchain: 0 }).address;

    const faucet = await fetch(`${devnet.url}/faucet`, {
      method: "POST",
      body: JSON.stringify({ address: wallet.address.toString(), amount: toNano("20").toString() }),
    });
    expect(faucet.ok).toBe(true);
    expect(await client.getBalance(wallet.address)).toBe(toNano("20"));

    const info = (await (await fetch(`${devnet.url}/devnet`)).json()) as { result: { escrowCode: string } };
    const escrowCode = Cell.fromBase64(info.result.escrowCode);
    const escrow = client.open(
      Escrow.createFromConfig(
        { owner: wallet.address, network: NETWORK_ID.devnet, closeDelay: 30 },
        escrowCode,
      ),
    );
    const session = generateKeyPair();
    const sender = wallet.sender(keys.secretKey);

    // Deposit and authorise the session key in one message (deploys the escrow).
    await escrow.sendAddKey(sender, { key: session.publicKey, value: toNano("5") });
    const deployTx = await lastTx(escrow.address);
    const deposited = await client.getBalance(escrow.address);
    expect(deposited).toBe(toNano("5") - deployTx.totalFees.coins);
    expect(await escrow.getKey(session.publicKey)).toEqual({
      epoch: 1,
      validUntil: Number(EscrowParams.KEY_ACTIVE),
    });

    // Two cumulative receipts, claimed by the provider with no TON of its own.
    const receipt = (tokens: bigint) =>
      signReceipt(
        {
          network: NETWORK_ID.devnet,
          escrow: escrow.address,
          payout,
          keyEpoch: 1,
          tokens,
          amount: tokens * 10_000n,
        },
        session,
      );
    let providerExpected = 0n;
    for (const tokens of [100_000n, 250_000n]) {
      const before = await client.getBalance(escrow.address);
      const paidBefore = await escrow.getPaid(1, payout);
      await escrow.sendExternalClaim(receipt(tokens));
      const delta = tokens * 10_000n - paidBefore;
      expect(before - (await client.getBalance(escrow.address))).toBe(delta);
      const claimTx = await lastTx(escrow.address);
      const out = outOf(claimTx);
      expect(out.value + claimTx.totalFees.coins + out.forwardFee).toBe(delta);
      const receiveTx = await lastTx(payout);
      providerExpected += out.value - receiveTx.totalFees.coins;
    }
    expect(await client.getBalance(payout)).toBe(providerExpected);
    expect(await escrow.getPaid(1, payout)).toBe(toNano("2.5"));
    expect(deposited - (await client.getBalance(escrow.address))).toBe(toNano("2.5"));

    // A replayed receipt is refused by the devnet, as a liteserver would, at no cost.
    const escrowBefore = await client.getBalance(escrow.address);
    await expect(escrow.sendExternalClaim(receipt(250_000n))).rejects.toThrow(/not accepted/);
    expect(await client.getBalance(escrow.address)).toBe(escrowBefore);

    // Close, wait out the delay, withdraw everything but the storage reserve.
    await escrow.sendClose(sender, toNano("0.05"));
    now += 31; // past the close delay, still inside the wallet's 60 s validity window
    const walletBefore = await client.getBalance(wallet.address);
    const escrowBeforeWithdraw = await client.getBalance(escrow.address);
    await escrow.sendWithdraw(sender, toNano("0.05"));
    const withdrawTx = await lastTx(escrow.address);
    const back = outOf(withdrawTx);
    expect(await client.getBalance(escrow.address)).toBe(EscrowParams.STORAGE_RESERVE);
    expect(back.value + withdrawTx.totalFees.coins + back.forwardFee).toBe(
      escrowBeforeWithdraw + toNano("0.05") - EscrowParams.STORAGE_RESERVE,
    );
    const [walletReceive, walletSend] = await client.getTransactions(wallet.address, { limit: 2 });
    const sentOut = outOf(walletSend!);
    expect((await client.getBalance(wallet.address)) - walletBefore).toBe(
      back.value -
        walletReceive!.totalFees.coins -
        walletSend!.totalFees.coins -
        sentOut.value -
        sentOut.forwardFee,
    );

    // Restart from the same directory: same balances, same paid totals.
    const balances = [
      await client.getBalance(wallet.address),
      await client.getBalance(payout),
      await client.getBalance(escrow.address),
    ];
    await devnet.close();
    devnet = await startDevnet({ dataDir, clock });
    client = new TonClient({ endpoint: devnet.endpoint });
    const reopened = client.open(Escrow.createFromAddress(escrow.address));
    expect([
      await client.getBalance(wallet.address),
      await client.getBalance(payout),
      await client.getBalance(escrow.address),
    ]).toEqual(balances);
    expect(await reopened.getPaid(1, payout)).toBe(toNano("2.5"));
    expect((await client.getTransactions(escrow.address, { limit: 10 })).length).toBeGreaterThanOrEqual(5);
  });
});
