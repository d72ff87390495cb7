import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initGateway } from "../../client/gateway/gateway-init";
import { type Gateway, startGateway } from "../../client/gateway/gateway-server";
import { readGatewayState } from "../../client/gateway/gateway-state";
import { parseGatewayOptions } from "../../client/gateway/options";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import { EscrowAccount } from "../../client/web/escrow";
import type { Devnet } from "../../contracts/devnet";
import { devnetPageConfig } from "../../contracts/page-config";
import { loadOrCreateKey } from "../../peer/key-file";
import { flatPrice, NETWORK_ID } from "../../protocol";
import { startHeadlessProvider } from "../../provider/headless/headless-provider";
import type { ProviderRuntime } from "../../provider/runtime";
import { fetchChainConfig } from "../../web/chain-config";
import { transferLink } from "../../web/transfer-link";
import { startChainServer } from "../browser/chain-server";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup } from "../signaling/helpers";

/**
 * `npm run gateway -- init` on a real devnet (the emulator behind TonClient's API, as `npm start`
 * runs it): key, faucet, escrow deployed with the key authorised, the epoch stored; then the
 * gateway started from what init stored is served by a provider that checks the escrow on chain.
 */
let devnet: Devnet;
let url: string;
let dir: string;
let backend: OpenAiBackend;
let runtime: ProviderRuntime | undefined;
let client: SilkClient | undefined;
let gateway: Gateway | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silk-init-"));
  ({ url, devnet } = await startChainServer(dir));
  backend = await startOpenAiBackend();
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  client?.close();
  runtime?.stop();
  await backend?.close();
  await cleanup();
  await devnet?.close();
});

describe("gateway init on the devnet", () => {
  it("funds, deploys and authorises, stores the epoch, and the gateway it starts is served", async () => {
    const lines: string[] = [];
    const files = {
      keyFile: join(dir, "gateway.key"),
      stateFile: join(dir, "gateway.json"),
      walletFile: join(dir, "wallet.seed"),
    };
    const state = await initGateway({
      signalingUrl: url,
      ...files,
      deposit: 5_000_000_000n,
      say: (l) => void lines.push(l),
    });
    expect(state.keyEpoch).toBeGreaterThanOrEqual(1);
    expect(state.network).toBe("devnet");
    expect(readGatewayState(files.stateFile)).toEqual(state);
    expect(statSync(files.walletFile).mode & 0o777).toBe(0o600);
    expect(lines.join("\n")).toContain(`epoch ${state.keyEpoch}`);

    // Run again: nothing new is sent, the same escrow and epoch come back.
    const again = await initGateway({
      signalingUrl: url,
      ...files,
      deposit: 5_000_000_000n,
      say: () => undefined,
    });
    expect(again).toEqual(state);

    // The gateway needs neither --escrow nor --key-epoch now.
    const config = parseGatewayOptions(["--max-price", "5"], {}, readGatewayState(files.stateFile));
    expect(config).toMatchObject({ escrow: state.escrow, keyEpoch: state.keyEpoch, signalingUrl: url });
    // Nor --ton-endpoint: it checks providers on the chain the server named (this one is on no
    // default port), not on a devnet it guesses at 127.0.0.1:8081.
    const chain = (await fetchChainConfig(url))!;
    expect(config.trust).toMatchObject({ tonEndpoint: chain.endpoint, registry: chain.registry });
    // A chain given by hand is taken with its own Registry, not the stored one.
    const other = parseGatewayOptions(
      ["--max-price", "5", "--ton-endpoint", "http://127.0.0.1:1/jsonRPC"],
      {},
      readGatewayState(files.stateFile),
    );
    expect(other.trust.tonEndpoint).toBe("http://127.0.0.1:1/jsonRPC");
    expect(other.trust.registry).toBeUndefined();

    // A provider that reads the escrow on chain serves it (and would refuse a wrong epoch).
    const provider = await startHeadlessProvider({
      signalingUrl: url,
      backend: backend.url,
      backendModel: "backend-model",
      model: "init-model",
      price: flatPrice(5n),
      features: [],
      payout: `0:${"44".repeat(32)}`,
      network: "devnet",
      capacity: 1,
      keyFile: join(dir, "provider.key"),
      receiptsFile: join(dir, "provider-receipts"),
      tonEndpoint: devnet.endpoint,
      minCloseDelay: 1,
      feeShareBps: 100,
      maxHoldHours: 168,
    });
    runtime = provider.runtime;
    client = await connect({
      signalingUrl: config.signalingUrl,
      sessionKey: loadOrCreateKey(files.keyFile).key,
      maxPrice: config.maxPrice,
      escrow: config.escrow,
      keyEpoch: config.keyEpoch,
      network: NETWORK_ID[config.network],
      wrtc,
    });
    gateway = await startGateway({ client });
    const openai = new OpenAI({ baseURL: gateway.url, apiKey: "unused", maxRetries: 0 });
    const done = await openai.chat.completions.create({
      model: "init-model",
      messages: [{ role: "user", content: "paid for" }],
    });
    expect(done.choices[0]?.message.content).toBe("Echo: paid for");
  }, 120_000);

  it("on testnet and mainnet, prints a ton:// link that deploys, deposits and authorises in one message", () => {
    const account = new EscrowAccount(
      devnetPageConfig(devnet.chain, 86_400),
      Address.parse(`0:${"55".repeat(32)}`),
    );
    const link = transferLink(account.depositTx(new Uint8Array(32).fill(7), 2_000_000_000n));
    const parsed = new URL(link);
    expect(parsed.protocol).toBe("ton:");
    expect(
      Address.parse(link.slice("ton://transfer/".length).split("?")[0]!).equals(account.contract.address),
    ).toBe(true);
    expect(parsed.searchParams.get("amount")).toBe("2000000000");
    expect(parsed.searchParams.get("bin")).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parsed.searchParams.get("init")).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
