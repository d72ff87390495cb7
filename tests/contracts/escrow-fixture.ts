import { type Address, toNano } from "@ton/core";
import {
  Blockchain,
  type BlockchainSnapshot,
  type SandboxContract,
  type TreasuryContract,
} from "@ton/sandbox";
import { beforeAll, beforeEach } from "vitest";
import { compiled } from "../../contracts/compile";
import { Escrow } from "../../contracts/wrappers/escrow";
import { generateKeyPair, type KeyPair } from "../../protocol/identity";
import { NETWORK_ID, type Receipt, type SignedReceipt, signReceipt } from "../../protocol/receipt";
import { type Reserve, type SignedReserve, signReserve } from "../../protocol/reserve";
import { type EscrowAccount, escrowAccountOf } from "../../provider/escrow-account";
import { expectSuccess } from "./helpers";

export const T0 = 1_800_000_000;
export const CLOSE_DELAY = 3600;
export const DEPOSIT = toNano("10");

export interface EscrowFixture {
  blockchain: Blockchain;
  escrow: SandboxContract<Escrow>;
  owner: SandboxContract<TreasuryContract>;
  provider: SandboxContract<TreasuryContract>;
  stranger: SandboxContract<TreasuryContract>;
  key: KeyPair;
  /** A receipt from `key` (epoch 1) to the provider's wallet, bound to this escrow on devnet. */
  receipt(amount: bigint, over?: Partial<Receipt>, signer?: KeyPair): SignedReceipt;
  /** A raise of the provider's stream (epoch 1) to `reserved`, from `key`, valid until T0 + 600. */
  reserve(reserved: bigint, over?: Partial<Reserve>, signer?: KeyPair): SignedReserve;
  balance(address?: Address): Promise<bigint>;
}

/** A funded escrow on devnet with one authorised session key (epoch 1); `now` fixed at T0. */
export async function escrowFixture(): Promise<EscrowFixture> {
  const { code } = await compiled("escrow");
  const blockchain = await Blockchain.create();
  blockchain.now = T0;
  const owner = await blockchain.treasury("owner");
  const provider = await blockchain.treasury("provider");
  const stranger = await blockchain.treasury("stranger");
  const escrow = blockchain.openContract(
    Escrow.createFromConfig(
      { owner: owner.address, network: NETWORK_ID.devnet, closeDelay: CLOSE_DELAY },
      code,
    ),
  );
  const key = generateKeyPair();
  const deployed = await escrow.sendAddKey(owner.getSender(), { key: key.publicKey, value: DEPOSIT });
  expectSuccess(deployed.transactions, escrow.address);
  const receipt = (amount: bigint, over: Partial<Receipt> = {}, signer: KeyPair = key): SignedReceipt =>
    signReceipt(
      {
        network: NETWORK_ID.devnet,
        escrow: escrow.address,
        payout: provider.address,
        keyEpoch: 1,
        tokens: amount / 1000n,
        amount,
        ...over,
      },
      signer,
    );
  const reserve = (reserved: bigint, over: Partial<Reserve> = {}, signer: KeyPair = key): SignedReserve =>
    signReserve(
      {
        network: NETWORK_ID.devnet,
        escrow: escrow.address,
        payout: provider.address,
        keyEpoch: 1,
        validUntil: T0 + 600,
        reserved,
        ...over,
      },
      signer,
    );
  const balance = async (address: Address = escrow.address) =>
    (await blockchain.getContract(address)).balance;
  return { blockchain, escrow, owner, provider, stranger, key, receipt, reserve, balance };
}

/**
 * One escrow per test file, compiled and deployed once (plus whatever `setup` adds), and every
 * test starting from that same state: `use` receives the fixture before the first test.
 */
export function freshEscrowForEachTest(
  use: (f: EscrowFixture) => void,
  setup?: (f: EscrowFixture) => Promise<void>,
): void {
  let f: EscrowFixture;
  let start: BlockchainSnapshot;
  beforeAll(async () => {
    f = await escrowFixture();
    await setup?.(f);
    start = f.blockchain.snapshot();
    use(f);
  });
  beforeEach(async () => {
    await f.blockchain.loadFrom(start);
  });
}

/** The escrow's account as the provider reads it from the chain (balance, code, data), from the sandbox. */
export async function escrowAccountIn(f: EscrowFixture): Promise<EscrowAccount> {
  const c = await f.blockchain.getContract(f.escrow.address);
  const s = c.accountState;
  if (s?.type !== "active") throw new Error("not active");
  return escrowAccountOf({ balance: c.balance, code: s.state.code!.toBoc(), data: s.state.data!.toBoc() });
}
