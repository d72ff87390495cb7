import wrtc from "@roamhq/wrtc";
import { Cell, toNano } from "@ton/core";
import { mnemonicNew, mnemonicToPrivateKey } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryPaymentAccount } from "../../client/sdk/payment-account";
import { connect } from "../../client/sdk/silk-client";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { Escrow } from "../../contracts/wrappers/escrow";
import { flatPrice, generateKeyPair, NETWORK_ID, streamId } from "../../protocol";
import { latestReceipt, MemoryReceiptStore } from "../../provider/receipt-store";
import { ProviderRuntime } from "../../provider/runtime";
import { connectTon } from "../../provider/ton-chain";
import { ScriptedEngine } from "../doubles/scripted-engine";
import { cleanup, startServer } from "../signaling/helpers";

let devnet: Devnet;
let client: TonClient;
beforeAll(async () => {
  devnet = await startDevnet({});
  client = new TonClient({ endpoint: devnet.endpoint });
});
afterAll(async () => {
  await cleanup();
  await devnet?.close();
});

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a paid session: escrow on the devnet, answers over WebRTC, settlement by the provider runtime", () => {
  it("pays the provider's payout address exactly what the receipts say, with no TON of its own", async () => {
    // The requester: a wallet from the faucet, an escrow with the session key authorised.
    const keys = await mnemonicToPrivateKey(await mnemonicNew());
    const wallet = client.open(WalletContractV5R1.create({ publicKey: keys.publicKey, workchain: 0 }));
    await fetch(`${devnet.url}/faucet`, {
      method: "POST",
      body: JSON.stringify({ address: wallet.address.toString(), amount: toNano("10").toString() }),
    });
    const info = (await (await fetch(`${devnet.url}/devnet`)).json()) as { result: { escrowCode: string } };
    const escrow = client.open(
      Escrow.createFromConfig(
        { owner: wallet.address, network: NETWORK_ID.devnet, closeDelay: 30 },
        Cell.fromBase64(info.result.escrowCode),
      ),
    );
    const sessionKey = generateKeyPair();
    await escrow.sendAddKey(wallet.sender(keys.secretKey), { key: sessionKey.publicKey, value: toNano("5") });
    const epoch = (await escrow.getKey(sessionKey.publicKey))!.epoch;

    // The provider: payout address never used before, settlement through TonClient.
    const payoutKeys = await mnemonicToPrivateKey(await mnemonicNew());
    const payout = WalletContractV5R1.create({ publicKey: payoutKeys.publicKey, workchain: 0 }).address;
    const store = new MemoryReceiptStore();
    const { settlement, gate, book } = connectTon({
      endpoint: devnet.endpoint,
      store,
      escrowCode: Cell.fromBase64(info.result.escrowCode),
      minCloseDelay: 30,
      // Claim whatever the fee share (a few cents' worth here): this test is about paying exactly.
      policy: { retryBaseMs: 100, feeShareBps: 10_000 },
    });
    const { url } = await startServer();
    const runtime = await ProviderRuntime.start({
      signalingUrl: url,
      identity: generateKeyPair(),
      engine: new ScriptedEngine(),
      models: [{ model: "test-model", price: flatPrice(1_000_000n) }], // 0.001 TON a token
      payout: payout.toString(),
      receipts: store,
      settlement,
      gate,
      book,
      wrtc,
    });

    const account = new MemoryPaymentAccount();
    const silk = await connect({
      signalingUrl: url,
      sessionKey,
      keyEpoch: epoch,
      maxPrice: { promptNanoPerToken: 1_000_000n, completionNanoPerToken: 1_000_000n },
      escrow: escrow.address.toString(),
      network: NETWORK_ID.devnet,
      account,
      wrtc,
    });
    let spent = 0n;
    for (const q of ["first question here", "and a second one"]) {
      const answer = await silk.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: q }],
      });
      spent += BigInt(answer.usage.silk!.cost_nanoton);
    }
    const stream = { network: NETWORK_ID.devnet, escrow: escrow.address, payout, keyEpoch: epoch };
    expect((await account.last(stream))?.receipt.amount).toBe(spent);

    // The requester leaves; the session ends; the provider claims.
    silk.close();
    await until(async () => (await escrow.getPaid(epoch, payout)) === spent);
    await settlement.idle();
    const record = await store.get(streamId(stream));
    expect(latestReceipt(record!).receipt.amount).toBe(spent);
    expect(record?.claimed).toBe(spent);
    const status = await settlement.status();
    expect(status).toMatchObject({ claimed: spent, pending: 0n });

    // The payout address received the claim less the fees, and held no TON before.
    const received = await client.getBalance(payout);
    expect(received).toBeGreaterThan(spent - toNano("0.01"));
    expect(received).toBeLessThan(spent);

    // A key the escrow never authorised is refused before a single token, and says why.
    const stranger = await connect({
      signalingUrl: url,
      sessionKey: generateKeyPair(),
      keyEpoch: epoch,
      maxPrice: { promptNanoPerToken: 1_000_000n, completionNanoPerToken: 1_000_000n },
      escrow: escrow.address.toString(),
      wrtc,
    });
    await expect(
      stranger.chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "free lunch?" }],
      }),
    ).rejects.toMatchObject({ code: "KEY_NOT_AUTHORISED" });
    stranger.close();
    runtime.stop();
  }, 60_000);
});
