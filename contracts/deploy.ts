/**
 * Deploys the Registry to testnet (or mainnet) from a wallet v5 given by mnemonic:
 *
 *   TON_NETWORK=testnet \
 *   TON_ENDPOINT=https://testnet.toncenter.com/api/v2/jsonRPC \
 *   TON_API_KEY=...            (optional, toncenter rate limits without one) \
 *   DEPLOYER_MNEMONIC="word1 ... word24" \
 *   npx tsx contracts/deploy.ts
 *
 * Escrows are not deployed here: each requester's wallet deploys its own, at the address fixed
 * by (escrow code, owner, network, close delay), with its first deposit. The script prints the
 * code hashes clients must agree on and writes them to contracts/deployments/<network>.json (the
 * deployment record: check it in; `npm start` refuses it once the code no longer matches).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Address, toNano } from "@ton/core";
import { mnemonicToPrivateKey } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import { NETWORK_ID, type NetworkName } from "../protocol/receipt";
import { compileContract } from "./compile";
import { DEPLOYMENTS_DIR, deploymentRecord } from "./deployment-record";
import { Registry } from "./wrappers/registry";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see the comment at the top of contracts/deploy.ts)`);
  return v;
}

const network = (process.env.TON_NETWORK ?? "testnet") as NetworkName;
if (network !== "testnet" && network !== "mainnet") throw new Error("TON_NETWORK must be testnet or mainnet");
const client = new TonClient({ endpoint: env("TON_ENDPOINT"), apiKey: process.env.TON_API_KEY });
const keys = await mnemonicToPrivateKey(env("DEPLOYER_MNEMONIC").trim().split(/\s+/));
const wallet = client.open(
  WalletContractV5R1.create({
    publicKey: keys.publicKey,
    workchain: 0,
    walletId: { networkGlobalId: NETWORK_ID[network] },
  }),
);

const [registryCode, entryCode] = await Promise.all([
  compileContract("registry"),
  compileContract("providerEntry"),
]);
const registry = client.open(Registry.createFromConfig({ entryCode: entryCode.code }, registryCode.code));
const fmt = { testOnly: network === "testnet" };
console.log(
  `deployer ${wallet.address.toString(fmt)}, balance ${await client.getBalance(wallet.address)} nanoTON`,
);

if (await client.isContractDeployed(registry.address)) {
  console.log(`registry already deployed at ${registry.address.toString(fmt)}`);
} else {
  const seqno = await wallet.getSeqno();
  await registry.sendDeploy(wallet.sender(keys.secretKey), toNano("0.05"));
  for (let i = 0; i < 30 && (await wallet.getSeqno()) === seqno; i++)
    await new Promise((r) => setTimeout(r, 2_000));
  for (let i = 0; i < 30 && !(await client.isContractDeployed(registry.address)); i++)
    await new Promise((r) => setTimeout(r, 2_000));
  if (!(await client.isContractDeployed(registry.address)))
    throw new Error("registry not deployed after 60 s; check the deployer's balance");
  console.log(`registry deployed at ${registry.address.toString(fmt)}`);
}

// What the operator checks in: `npm start` serves this Registry only while it matches the code.
const out = await deploymentRecord(network);
if (!Address.parse(out.registry).equals(registry.address))
  throw new Error("the record names another registry");
mkdirSync(DEPLOYMENTS_DIR, { recursive: true });
writeFileSync(join(DEPLOYMENTS_DIR, `${network}.json`), `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
