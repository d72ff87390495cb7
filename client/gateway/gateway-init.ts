import { fileSeed, loadOrCreateKey } from "../../peer/key-file";
import { encodePublicKey, type NetworkName } from "../../protocol";
import { serverChain } from "../../web/chosen-chain";
import { ownerWallet } from "../../web/owner-wallet";
import { EscrowAccount } from "../web/escrow";
import { EscrowChain } from "../web/escrow-chain";
import { type GatewayState, writeGatewayState } from "./gateway-state";

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
  /** The network the user chose (default devnet): a server naming another is refused. */
  readonly network?: NetworkName;
  /** The TON endpoint the user chose; else the server's on the devnet, or a public one (`chosenChain`). */
  readonly tonEndpoint?: string;
  /** The signaling server's key as its operator gave it (64 hex): pinned, and a server publishing another refused. */
  readonly serverKey?: string;
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
  const chain = await serverChain(o.signalingUrl, o);
  // Pinned from now on: the operator's word when given (a server publishing another is refused),
  // else trust on first use (compare it with the operator's word).
  const published = await fetchServerKey(o.signalingUrl);
  if (o.serverKey && published && published !== o.serverKey)
    throw new ServerKeyMismatchError(o.signalingUrl, published, o.serverKey);
  const serverKey = o.serverKey ?? published;
  if (serverKey) o.say(`signaling server key ${serverKey} (pinned in ${o.stateFile})`);
  const { key, created } = loadOrCreateKey(o.keyFile);
  o.say(`session key ${encodePublicKey(key.publicKey)} (${created ? "new" : "from"} ${o.keyFile})`);
  const escrowChain = new EscrowChain(chain);

  const wallet = await ownerWallet(chain, {
    seed: fileSeed(o.walletFile),
    ...(o.owner && { owner: o.owner }),
    ...(o.timeoutMs && { timeoutMs: o.timeoutMs }),
    say: o.say,
  });
  const owner = wallet.owner;
  const account = new EscrowAccount(chain, owner);
  const friendly = account.contract.address.toString({ testOnly: chain.network !== "mainnet" });
  o.say(
    `escrow ${friendly} on ${chain.network}, owned by ${owner.toString({ testOnly: chain.network !== "mainnet" })}, withdrawable ${chain.closeDelay} s after you close it`,
  );

  let facts = await escrowChain.read(account, key.publicKey);
  await wallet.send(
    account.depositTx(key.publicKey, o.deposit),
    `deposit ${formatNano(o.deposit)} TON and authorise the key`,
    async () => {
      facts = await escrowChain.read(account, key.publicKey);
      return facts.keyEpoch !== undefined;
    },
  );
  const state: GatewayState = {
    escrow: account.address,
    keyEpoch: facts.keyEpoch!,
    network: chain.network,
    signalingUrl: o.signalingUrl,
    tonEndpoint: chain.endpoint,
    ...(o.tonEndpoint && { tonEndpointGiven: true as const }),
    ...(chain.registry && { registry: chain.registry }),
    ...(serverKey && { serverKey }),
  };
  writeGatewayState(o.stateFile, state);
  o.say(`key authorised with epoch ${state.keyEpoch}; escrow holds ${formatNano(facts.balance)} TON`);
  o.say(`saved to ${o.stateFile}: start the gateway with \`npm run gateway -- --max-price N\``);
  return state;
}

/** The server publishes another key than the one its operator gave (`--server-key`): not this server, or a man in the middle. */
export class ServerKeyMismatchError extends Error {
  override readonly name = "ServerKeyMismatchError";
  constructor(
    server: string,
    /** The key the server published (`/api/server-key`). */
    readonly published: string,
    /** The key given. */
    readonly expected: string,
  ) {
    super(
      `${server} publishes the server key ${published}, not ${expected} (--server-key): another server, or a man in the middle; nothing was pinned or paid`,
    );
  }
}

/** The key the server at `url` publishes (`GET /api/server-key`); undefined from a server without one. */
async function fetchServerKey(url: string): Promise<string | undefined> {
  const res = await fetch(new URL("/api/server-key", url), { cache: "no-store" }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = (await res.json().catch(() => undefined)) as { key?: unknown } | undefined;
  return typeof body?.key === "string" && /^[0-9a-f]{64}$/.test(body.key) ? body.key : undefined;
}

function formatNano(n: bigint): string {
  return (Number(n) / 1e9).toString();
}
