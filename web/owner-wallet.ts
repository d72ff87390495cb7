import { Address } from "@ton/core";
import { type ChainConfig, waitForChain } from "./chain-config";
import { DevWallet } from "./dev-wallet";
import type { KvEntry } from "./page-db";
import { transferLink } from "./transfer-link";
import type { Wallet, WalletTransaction } from "./wallet";

/**
 * The wallet a command line's `init` acts for. On the devnet, a wallet of its own (`seed`: a file),
 * funded from the faucet when it holds too little; on testnet and mainnet, the user's wallet,
 * reached through a `ton://transfer` link it prints. Either way, what a transaction did is then
 * judged on chain (`confirm`), never by the wallet's answer.
 */
export interface OwnerWallet {
  readonly owner: Address;
  /** Sends `tx` (or prints its link), then waits until `done` holds on chain. */
  send(tx: WalletTransaction, what: string, done: () => Promise<boolean>): Promise<void>;
}

export async function ownerWallet(
  chain: ChainConfig,
  o: {
    seed: Pick<KvEntry<Uint8Array>, "get" | "set">;
    owner?: string;
    timeoutMs?: number;
    /** How often the chain is read while waiting for the user's wallet (default 3 s). */
    pollMs?: number;
    say: (line: string) => void;
  },
): Promise<OwnerWallet> {
  if (chain.network !== "devnet") {
    if (!o.owner)
      throw new Error(`on ${chain.network}, --owner names your wallet, which pays and owns the entry`);
    const owner = Address.parse(o.owner);
    return {
      owner,
      async send(tx, what, done) {
        if (await done()) return;
        o.say(
          `open this link in the wallet ${owner.toString({ testOnly: chain.network !== "mainnet" })} to ${what}:`,
        );
        o.say(transferLink(tx));
        o.say("waiting for it on chain (Ctrl-C to stop; run the command again later to pick it up)…");
        await waitForChain(done, what, {
          timeoutMs: o.timeoutMs ?? 30 * 60_000,
          intervalMs: o.pollMs ?? 3_000,
        });
      },
    };
  }
  const wallet = new DevWallet(chain, o.seed);
  await wallet.prepare();
  const signer = await new Promise<Wallet>((resolve) => {
    const off = wallet.onChange((w) => {
      if (!w) return;
      resolve(w);
      queueMicrotask(() => off());
    });
  });
  return {
    owner: Address.parse(signer.address),
    async send(tx, what, done) {
      if (await done()) return;
      const need = tx.messages.reduce((n, m) => n + BigInt(m.amount), 0n) + 100_000_000n;
      for (let i = 0; (await wallet.balance()) < need; i++) {
        if (i >= 10) throw new Error(`the devnet's faucet did not give enough to ${what}`);
        o.say("asking the devnet's faucet for test TON…");
        await wallet.fund();
      }
      o.say(`${what}…`);
      await signer.sendTransaction(tx);
      await waitForChain(done, what, { timeoutMs: o.timeoutMs ?? 60_000, intervalMs: 300 });
    },
  };
}
