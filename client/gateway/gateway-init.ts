import { Address } from "@ton/core";
import { loadOrCreateKey } from "../../peer/key-file";
import { encodePublicKey } from "../../protocol";
import { fetchChainConfig, waitForChain } from "../../web/chain-config";
import { DevWallet } from "../../web/dev-wallet";
import type { Wallet, WalletTransaction } from "../../web/wallet";
import { EscrowAccount } from "../web/escrow";
import { EscrowChain } from "../web/escrow-chain";
import { fileSeed, type GatewayState, writeGatewayState } from "./gateway-state";

/**
 * `npm run gateway -- init`: everything a program needs before it can ask. Makes or reads the
 * session key, computes the escrow's address, and gets the key authorised in it: on the devnet by
 * funding a wallet of its own from the faucet and sending the deposit (which deploys the escrow
 * and adds the key in one message); on testnet and mainnet by printing a `ton://transfer` link
 * for the owner's wallet and waiting until the chain shows the key. Then it stores the escrow and
 * the epoch the escrow gave the key, which the gateway reads at start.
 */
export interface InitOptions {
  readonly signalingUrl: string;
  readonly keyFile: string;
  readonly stateFile: string;
  /** The devnet wallet's seed file (devnet only). */
  readonly walletFile: string;
  /** The wallet that owns the escrow (testnet and mainnet: yours). */
  readonly owner?: string;
  readonly deposit: bigint;
  readonly timeoutMs?: number;
  readonly say: (line: string) => void;
}

export async function initGateway(o: InitOptions): Promise<GatewayState> {
  const chain = await fetchChainConfig(o.signalingUrl);
  if (!chain) throw new Error(`${o.signalingUrl} names no TON network (/api/config); is it a Silk server?`);
  const { key, created } = loadOrCreateKey(o.keyFile);
  o.say(`session key ${encodePublicKey(key.publicKey)} (${created ? "new" : "from"} ${o.keyFile})`);
  const escrowChain = new EscrowChain(chain);

  let owner: Address;
  let wallet: DevWallet | undefined;
  let signer: Wallet | undefined;
  if (chain.network === "devnet") {
    wallet = new DevWallet(chain, fileSeed(o.walletFile));
    await wallet.prepare();
    signer = await connected(wallet);
    owner = Address.parse(signer.address);
  } else {
    if (!o.owner)
      throw new Error(`on ${chain.network}, --owner names the wallet that funds and owns the escrow`);
    owner = Address.parse(o.owner);
  }
  const account = new EscrowAccount(chain, owner);
  const friendly = account.contract.address.toString({ testOnly: chain.network !== "mainnet" });
  o.say(
    `escrow ${friendly} on ${chain.network}, owned by ${owner.toString({ testOnly: chain.network !== "mainnet" })}`,
  );

  let facts = await escrowChain.read(account, key.publicKey);
  if (facts.keyEpoch === undefined) {
    const tx = account.depositTx(key.publicKey, o.deposit);
    if (wallet && signer) {
      if ((await wallet.balance()) < o.deposit + 1_000_000_000n) {
        o.say("asking the devnet's faucet for test TON…");
        await wallet.fund();
      }
      o.say(`depositing ${formatNano(o.deposit)} TON and authorising the key…`);
      await signer.sendTransaction(tx);
    } else {
      o.say(`open this link in your wallet to deposit ${formatNano(o.deposit)} TON and authorise the key:`);
      o.say(transferLink(tx));
      o.say("waiting for it on chain (Ctrl-C to stop; run init again later to pick it up)…");
    }
    await waitForChain(
      async () => {
        facts = await escrowChain.read(account, key.publicKey);
        return facts.keyEpoch !== undefined;
      },
      "the key's authorisation in the escrow",
      { timeoutMs: o.timeoutMs ?? (wallet ? 60_000 : 30 * 60_000), intervalMs: wallet ? 300 : 3_000 },
    );
  }
  const state: GatewayState = {
    escrow: account.address,
    keyEpoch: facts.keyEpoch!,
    network: chain.network,
    signalingUrl: o.signalingUrl,
  };
  writeGatewayState(o.stateFile, state);
  o.say(`key authorised with epoch ${state.keyEpoch}; escrow holds ${formatNano(facts.balance)} TON`);
  o.say(`saved to ${o.stateFile}: start the gateway with \`npm run gateway -- --max-price N\``);
  return state;
}

/** A TON transfer deep link (ton://transfer/…) carrying the body and, to deploy, the StateInit. */
export function transferLink(tx: WalletTransaction): string {
  const m = tx.messages[0]!;
  const url = (b64: string) => b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const params = new URLSearchParams({ amount: m.amount.toString() });
  if (m.payload) params.set("bin", url(m.payload));
  if (m.stateInit) params.set("init", url(m.stateInit));
  return `ton://transfer/${Address.parse(m.address).toString({ urlSafe: true, bounceable: true })}?${params}`;
}

function connected(wallet: DevWallet): Promise<Wallet> {
  return new Promise((resolve) => {
    const off = wallet.onChange((w) => {
      if (w) {
        resolve(w);
        queueMicrotask(() => off());
      }
    });
  });
}

function formatNano(n: bigint): string {
  return (Number(n) / 1e9).toString();
}
