import { Address, beginCell, storeMessage, storeStateInit } from "@ton/core";
import { keyPairFromSeed } from "@ton/crypto";
import { TonClient, WalletContractV5R1 } from "@ton/ton";
import type { BrowserContext } from "playwright-core";
import { fetchChainConfig } from "../../web/chain-config";
import { DevWallet } from "../../web/dev-wallet";
import { CHAIN_ID, type Wallet } from "../../web/wallet";

/**
 * TEST DOUBLE: a TON wallet app that a page's @tonconnect/ui connects to through TON Connect's
 * injected bridge (`window[key].tonconnect`: `connect`, `restoreConnection`, `send`, `listen`,
 * `disconnect`, as wallet extensions inject it), standing in for a real wallet: none can reach a
 * local devnet. Its key and its signing live in this process (a wallet v5 on the devnet, funded
 * by the devnet's faucet, sending as the pages' dev wallet does); the page holds only the bridge,
 * which calls it through a Playwright binding. TON Connect lists wallets from config.ton.org
 * (unreachable here): that list is served naming this wallet, as the real list names each
 * extension by its bridge key.
 */
export const WALLET_DOUBLE_KEY = "silkWalletDouble";
export const WALLET_DOUBLE_NAME = "Silk test wallet (double)";

/** A TON Connect `sendTransaction` request, as the wallet receives it (protocol v2). */
export interface SendTransactionRpc {
  readonly valid_until?: number;
  readonly network?: string;
  readonly from?: string;
  readonly messages: readonly { address: string; amount: string; payload?: string; stateInit?: string }[];
}

export interface WalletDouble {
  readonly address: Address;
  balance(): Promise<bigint>;
  /** Every transaction the page asked it to send, as it arrived. */
  readonly requests: SendTransactionRpc[];
  /** How it answers the next requests: sign and send them, or refuse (the user pressed Cancel). */
  answer: "sign" | "reject";
}

type BridgeCall =
  | { readonly m: "account" }
  | { readonly m: "connect" }
  | { readonly m: "disconnect" }
  | { readonly m: "send"; readonly request: SendTransactionRpc };

/** TON Connect's wallet error codes the double answers with (protocol: sendTransaction errors). */
const BAD_REQUEST = 1;
const USER_REJECTS = 300;

/**
 * Installs the wallet in `context` (every page of it) against the Silk server at `serverUrl`
 * (its devnet), funded with `fund` nanoTON from the faucet.
 */
export async function installWalletDouble(
  context: BrowserContext,
  serverUrl: string,
  fund = 50_000_000_000n,
): Promise<WalletDouble> {
  const config = await fetchChainConfig(serverUrl);
  if (config?.network !== "devnet") throw new Error("the wallet double pays on the devnet only");
  let seed: Uint8Array | undefined;
  const dev = new DevWallet(config, {
    get: async () => seed,
    set: async (s) => {
      seed = s;
    },
  });
  await dev.prepare();
  await dev.fund(fund);
  let wallet: Wallet | undefined;
  dev.onChange((w) => {
    wallet = w;
  });
  const contract = WalletContractV5R1.create({
    workchain: 0,
    publicKey: keyPairFromSeed(Buffer.from(seed!)).publicKey,
  });
  const address = contract.address;
  if (wallet?.address !== address.toRawString()) throw new Error("the double's key is not its dev wallet's");
  const client = new TonClient({ endpoint: config.endpoint });
  const chain = CHAIN_ID.devnet;
  const double: WalletDouble = { address, balance: () => dev.balance(), requests: [], answer: "sign" };

  const account = {
    address: address.toRawString(),
    network: chain,
    publicKey: contract.publicKey.toString("hex"),
    walletStateInit: beginCell().store(storeStateInit(contract.init)).endCell().toBoc().toString("base64"),
  };

  /** What a wallet checks before it shows a request to its user; the reason it refuses, or undefined. */
  const refusal = (r: SendTransactionRpc): string | undefined => {
    if (r.network !== undefined && r.network !== chain) return `this wallet is on ${chain}, not ${r.network}`;
    if (r.from !== undefined && !Address.parse(r.from).equals(address)) return "from is another wallet";
    if (r.valid_until !== undefined && r.valid_until < Date.now() / 1000) return "the request expired";
    if (!r.messages.length || r.messages.length > 4) return "1 to 4 messages";
    if (r.messages.some((m) => !Address.isFriendly(m.address))) return "addresses must be user-friendly";
    return undefined;
  };

  await context.exposeBinding("silkWalletDoubleCall", async (_source, call: BridgeCall) => {
    if (call.m === "account" || call.m === "connect") return account;
    if (call.m === "disconnect") return {};
    double.requests.push(call.request);
    const bad = refusal(call.request);
    if (bad) return { error: { code: BAD_REQUEST, message: bad } };
    if (double.answer === "reject") return { error: { code: USER_REJECTS, message: "the user declined" } };
    const sent = call.request.messages.map((m) => ({
      address: m.address,
      amount: BigInt(m.amount),
      ...(m.payload && { payload: m.payload }),
      ...(m.stateInit && { stateInit: m.stateInit }),
    }));
    await wallet!.sendTransaction({ messages: sent });
    // The answer is the signed external message, as the chain took it.
    const [last] = await client.getTransactions(address, { limit: 1 });
    const boc = beginCell().store(storeMessage(last!.inMessage!)).endCell().toBoc().toString("base64");
    return { result: boc };
  });
  await context.addInitScript(injectBridge, {
    key: WALLET_DOUBLE_KEY,
    name: WALLET_DOUBLE_NAME,
    image: new URL("/favicon.ico", serverUrl).toString(),
  });
  await context.route(/^https:\/\/config\.ton\.org\/wallets-v2\.json/, (route) =>
    route.fulfill({
      contentType: "application/json",
      body: JSON.stringify([
        {
          app_name: WALLET_DOUBLE_KEY,
          name: WALLET_DOUBLE_NAME,
          image: new URL("/favicon.ico", serverUrl).toString(),
          about_url: "https://example.invalid/silk-wallet-double",
          bridge: [{ type: "js", key: WALLET_DOUBLE_KEY }],
          platforms: ["chrome", "firefox", "safari", "macos", "windows", "linux"],
          features: [{ name: "SendTransaction", maxMessages: 4 }],
        },
      ]),
    }),
  );
  return double;
}

/**
 * The page's half: TON Connect's injected bridge (protocol v2), forwarding to the wallet in the test
 * process. Runs in the page before its scripts (an init script): it may use nothing from outside.
 */
function injectBridge(info: { key: string; name: string; image: string }): void {
  type Call = (call: unknown) => Promise<Record<string, unknown>>;
  const call: Call = (c) => (window as unknown as { silkWalletDoubleCall: Call }).silkWalletDoubleCall(c);
  const remembered = `${info.key}:connected`;
  const device = {
    platform: "browser",
    appName: info.key,
    appVersion: "1.0.0",
    maxProtocolVersion: 2,
    features: ["SendTransaction", { name: "SendTransaction", maxMessages: 4 }],
  };
  const listeners = new Set<(event: unknown) => void>();
  let eventId = 0;
  const connected = async () => {
    const account = await call({ m: "account" });
    return {
      event: "connect",
      id: ++eventId,
      payload: { items: [{ name: "ton_addr", ...account }], device },
    };
  };
  const tonconnect = {
    deviceInfo: device,
    walletInfo: {
      name: info.name,
      app_name: info.key,
      image: info.image,
      about_url: "https://example.invalid/silk-wallet-double",
      platforms: ["chrome", "firefox", "safari", "macos", "windows", "linux"],
    },
    protocolVersion: 2,
    isWalletBrowser: false,
    async connect(protocolVersion: number, request: { items?: { name: string }[] }) {
      if (protocolVersion > 2 || !request.items?.some((i) => i.name === "ton_addr")) {
        return {
          event: "connect_error",
          id: ++eventId,
          payload: { code: 1, message: "bad connect request" },
        };
      }
      await call({ m: "connect" });
      localStorage.setItem(remembered, "1");
      return connected();
    },
    async restoreConnection() {
      if (localStorage.getItem(remembered)) return connected();
      return { event: "connect_error", id: ++eventId, payload: { code: 0, message: "not connected" } };
    },
    async send(message: { method: string; params: string[]; id: string }) {
      if (message.method === "disconnect") {
        localStorage.removeItem(remembered);
        await call({ m: "disconnect" });
        return { id: message.id, result: {} };
      }
      if (message.method !== "sendTransaction") {
        return { id: message.id, error: { code: 400, message: `${message.method} is not supported` } };
      }
      const answer = await call({ m: "send", request: JSON.parse(message.params[0] ?? "{}") });
      return { id: message.id, ...answer };
    },
    listen(callback: (event: unknown) => void) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    /** The app disconnects: the wallet forgets it (no event back: that is for the wallet's own disconnect). */
    disconnect() {
      localStorage.removeItem(remembered);
    },
  };
  (window as unknown as Record<string, unknown>)[info.key] = { tonconnect };
}
