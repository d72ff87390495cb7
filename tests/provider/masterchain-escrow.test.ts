import { type Address, toNano } from "@ton/core";
import { Blockchain } from "@ton/sandbox";
import { beforeAll, describe, expect, it } from "vitest";
import { compiled } from "../../contracts/compile";
import { EscrowParams } from "../../contracts/generated/constants";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair } from "../../protocol/identity";
import { NETWORK_ID, type Receipt, signReceipt } from "../../protocol/receipt";
import { AccountRefusedError, accountGate } from "../../provider/account-gate";
import { escrowAccountOf, escrowFacts } from "../../provider/escrow-account";

/**
 * An escrow's address is fixed by its code and data, but the workchain is the deployer's choice.
 * The Escrow prices a claim's gas and import fee at basechain rates (its payout is the difference
 * less them, to the nanoTON); in the masterchain both cost many times more and the escrow's
 * balance pays the rest, so a claim the escrow accepts can leave too little to send the payout:
 * the paid total is committed and the provider receives nothing, while the owner withdraws what
 * is left. The same code, network and close delay: only the workchain tells it.
 */
const T0 = 1_800_000_000;
const key = generateKeyPair();
let blockchain: Blockchain;
let codeHash: string;
let provider: Address;

async function escrowIn(workchain: number) {
  const { code } = await compiled("escrow");
  const owner = await blockchain.treasury("owner");
  const escrow = blockchain.openContract(
    Escrow.createFromConfig(
      { owner: owner.address, network: NETWORK_ID.devnet, closeDelay: 3_600 },
      code,
      workchain,
    ),
  );
  await escrow.sendAddKey(owner.getSender(), { key: key.publicKey, value: toNano("1") });
  return escrow;
}

function receipt(escrow: Address, amount: bigint): Receipt {
  return { network: NETWORK_ID.devnet, escrow, payout: provider, keyEpoch: 1, tokens: 1n, amount };
}

async function balance(address: Address): Promise<bigint> {
  return (await blockchain.getContract(address)).balance;
}

/** The gate as connectTon builds it, reading the account from the sandbox. */
const gate = () =>
  accountGate(
    async (address, base, sessionKey) => {
      const c = await blockchain.getContract(address);
      const s = c.accountState;
      if (s?.type !== "active") throw new Error("not active");
      const account = escrowAccountOf({
        balance: c.balance,
        code: s.state.code!.toBoc(),
        data: s.state.data!.toBoc(),
      });
      return escrowFacts(account, base, sessionKey);
    },
    { codeHash, minCloseDelay: 60, minimum: EscrowParams.MIN_CLAIM },
  );

async function gateSays(escrow: Address): Promise<string> {
  return gate()
    .check(receipt(escrow, 0n), key.publicKey)
    .then(
      () => "served",
      (err: unknown) => (err instanceof AccountRefusedError ? `${err.code}: ${err.message}` : String(err)),
    );
}

beforeAll(async () => {
  blockchain = await Blockchain.create();
  blockchain.now = T0;
  provider = (await blockchain.treasury("provider")).address;
  codeHash = (await compiled("escrow")).code.hash().toString("hex");
});

describe("an escrow deployed in the masterchain", () => {
  it("accepts a claim it then cannot pay: the paid total rises, the provider receives nothing", async () => {
    const escrow = await escrowIn(-1);
    const providerBefore = await balance(provider);
    // Below what the escrow holds less its storage reserve by 0.05 TON: in the basechain, paid in full.
    const amount = (await balance(escrow.address)) - EscrowParams.STORAGE_RESERVE - toNano("0.05");
    await escrow.sendExternalClaim(signReceipt(receipt(escrow.address, amount), key));
    expect(await escrow.getPaid(1, provider)).toBe(amount);
    expect(await balance(provider)).toBe(providerBefore);
    // Nearly all of it is still there, for the owner to withdraw after a close.
    expect(await balance(escrow.address)).toBeGreaterThan(amount - toNano("0.1"));
  });

  it("is refused by the provider's gate before anything is served, by name; the same escrow in the basechain is served", async () => {
    const mc = await escrowIn(-1);
    expect(await gateSays(mc.address)).toMatch(/^ESCROW_CODE: .*workchain -1/);
    expect(await gateSays((await escrowIn(0)).address)).toBe("served");
  });
});
