import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerKeyMismatchError } from "../../client/gateway/gateway-init";
import { parseGatewayOptions } from "../../client/gateway/options";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { THIS_CODES_REGISTRY } from "../../contracts/named-code";
import { DEVNET_MOUNT } from "../../contracts/page-config";
import { flatPrice, NETWORK_ID, type PageConfig } from "../../protocol";
import { parseHeadlessOptions } from "../../provider/headless/options";
import { initProvider } from "../../provider/headless/provider-init";
import {
  CloseDelayError,
  checkCloseDelay,
  fetchChainConfig,
  MAX_CLOSE_DELAY_S,
} from "../../web/chain-config";
import {
  chosenChain,
  NetworkMismatchError,
  PUBLIC_TON_ENDPOINTS,
  StoredEndpointError,
  TonEndpointError,
  TonEndpointUrlError,
} from "../../web/chosen-chain";
import { cleanup } from "../signaling/helpers";
import { gatewayInit, lyingConfigServer } from "../support/lying-config";
import { PAYOUT } from "../support/silk-parties";

/**
 * A lying signaling server (a real one on loopback, a devnet mounted on it as `npm start` does)
 * whose `/api/config` picks the network or the TON endpoint: `gateway init` and `provider init`
 * take the network from the user (`network`, `--network`) and, on testnet and mainnet, read the
 * chain only through the user's endpoint or a public one this build knows. They used to follow the
 * server: funding a wallet and depositing on the server's devnet when the user meant testnet, and
 * printing a transfer link to pay, then waiting on (and storing) the server's own endpoint, which
 * can report any escrow key, Registry entry or clock it likes. `gateway init` deposits only under a
 * close delay of a week at most; it used to deposit under a year's.
 */
let devnet: Devnet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silk-chosen-chain-"));
  devnet = await startDevnet({});
}, 120_000);

afterAll(async () => {
  await cleanup();
  await devnet?.close();
});

const lyingServer = (lie: Partial<PageConfig>) => lyingConfigServer(devnet, lie);

/** Testnet by name, its chain read through the server's own endpoint (its devnet, `/ton/jsonRPC`). */
const OWN_TESTNET: Partial<PageConfig> = { network: "testnet", globalId: NETWORK_ID.testnet };

function providerFiles(name: string) {
  return {
    keyFile: join(dir, `${name}.key`),
    stateFile: join(dir, `${name}.json`),
    walletFile: join(dir, `${name}-wallet.seed`),
  };
}

describe("the network and the TON endpoint a server names", () => {
  it("gateway init for testnet refuses a server naming its devnet, before any faucet or deposit", async () => {
    const init = await gatewayInit(dir, await lyingServer({}), { network: "testnet", owner: PAYOUT });
    expect(init.result).toBeInstanceOf(NetworkMismatchError);
    expect((init.result as Error).message).toContain("names devnet, not testnet");
    expect(init.said).not.toMatch(/faucet|wallet|deposit|escrow/i);
    expect(init.stored).toBe(false);
  }, 60_000);

  it("gateway init on testnet refuses the server's own endpoint: no transfer link to pay, nothing stored", async () => {
    const url = await lyingServer(OWN_TESTNET);
    const init = await gatewayInit(dir, url, { network: "testnet", owner: PAYOUT, timeoutMs: 3_000 });
    expect(init.result).toBeInstanceOf(TonEndpointError);
    expect((init.result as TonEndpointError).named).toBe(`${url}${DEVNET_MOUNT}/jsonRPC`);
    expect(init.said).not.toMatch(/ton:\/\/transfer|escrow/i);
    expect(init.stored).toBe(false);
  }, 60_000);

  it("provider init on testnet refuses the server's own endpoint before any registration is asked for", async () => {
    const url = await lyingServer(OWN_TESTNET);
    const said: string[] = [];
    const err = await initProvider({
      signalingUrl: url,
      network: "testnet",
      owner: PAYOUT,
      ...providerFiles("provider"),
      model: "test-model",
      price: flatPrice(10n),
      timeoutMs: 3_000,
      say: (line) => said.push(line),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TonEndpointError);
    expect(said.join("\n")).not.toMatch(/ton:\/\/transfer|register|entry/i);
  }, 60_000);

  it("gateway init refuses a close delay beyond a week (a deposit locked that long), before any faucet or deposit", async () => {
    const init = await gatewayInit(dir, await lyingServer({ closeDelay: 366 * 86_400 }));
    expect(init.result).toBeInstanceOf(CloseDelayError);
    expect((init.result as CloseDelayError).named).toBe(366 * 86_400);
    expect(init.said).not.toMatch(/faucet|wallet|deposit|escrow/i);
    expect(init.stored).toBe(false);
    // A week is deposited under, and said.
    const week = await gatewayInit(dir, await lyingServer({ closeDelay: MAX_CLOSE_DELAY_S }), {
      timeoutMs: 60_000,
    });
    expect(week.stored).toBe(true);
    expect(week.said).toContain(`withdrawable ${MAX_CLOSE_DELAY_S} s after you close it`);
  }, 90_000);

  it("a close delay that is no whole number of seconds from 1 to a week is refused, NaN included", () => {
    for (const closeDelay of [Number.NaN, Number.POSITIVE_INFINITY, 0, -60, 1.5, MAX_CLOSE_DELAY_S + 1])
      expect(() => checkCloseDelay({ closeDelay }, "a server"), String(closeDelay)).toThrow(CloseDelayError);
    for (const closeDelay of [1, 3_600, MAX_CLOSE_DELAY_S]) checkCloseDelay({ closeDelay }, "a server");
  });

  it("the gateway does not read a testnet endpoint an older init stored from the server; yours or toncenter's it does", () => {
    const stored = {
      escrow: PAYOUT,
      keyEpoch: 1,
      network: "testnet" as const,
      signalingUrl: "http://lying:8787",
      tonEndpoint: `http://lying:8787${DEVNET_MOUNT}/jsonRPC`,
      registry: THIS_CODES_REGISTRY.toString(),
    };
    const start = (argv: string[], state: typeof stored & { tonEndpointGiven?: true }) =>
      parseGatewayOptions(["--max-price", "9", ...argv], {}, state).trust.tonEndpoint;
    expect(() => start([], stored)).toThrow(/was the signaling server's word, not yours/);
    expect(start([], { ...stored, tonEndpointGiven: true })).toBe(stored.tonEndpoint);
    const toncenter = PUBLIC_TON_ENDPOINTS.testnet[0]!;
    expect(start([], { ...stored, tonEndpoint: toncenter })).toBe(toncenter);
    expect(start(["--ton-endpoint", toncenter, "--registry", stored.registry], stored)).toBe(toncenter);
  });

  it("the headless provider does not claim through a testnet endpoint an older init stored from the server", () => {
    const stored = {
      network: "testnet" as const,
      signalingUrl: "http://lying:8787",
      tonEndpoint: `http://lying:8787${DEVNET_MOUNT}/jsonRPC`,
      registry: THIS_CODES_REGISTRY.toString(),
      owner: PAYOUT,
      payout: PAYOUT,
    };
    const argv = ["--backend", "http://127.0.0.1:1/v1", "--model", "m", "--price", "5"];
    const start = (more: string[], state: typeof stored & { tonEndpointGiven?: true }) =>
      parseHeadlessOptions([...argv, ...more], {}, state).tonEndpoint;
    expect(() => start([], stored)).toThrow(StoredEndpointError);
    expect(start([], { ...stored, tonEndpointGiven: true })).toBe(stored.tonEndpoint);
    const toncenter = PUBLIC_TON_ENDPOINTS.testnet[0]!;
    expect(start(["--ton-endpoint", toncenter], stored)).toBe(toncenter);
  });

  it("gateway init given the operator's server key refuses a server publishing another, before any wallet", async () => {
    const operators = "ab".repeat(32);
    const init = await gatewayInit(dir, await lyingServer({}), { serverKey: operators });
    expect(init.result).toBeInstanceOf(ServerKeyMismatchError);
    expect((init.result as ServerKeyMismatchError).expected).toBe(operators);
    expect(init.said).not.toMatch(/pinned|faucet|wallet|deposit/i);
    expect(init.stored).toBe(false);
  }, 60_000);

  it("the user's endpoint replaces the server's; a public one the server names is used", async () => {
    const named = await fetchChainConfig(await lyingServer(OWN_TESTNET));
    if (!named) throw new Error("no config");
    const mine = "https://ton.example/api/v2/jsonRPC";
    expect(chosenChain(named, "s", { network: "testnet", tonEndpoint: mine }).endpoint).toBe(mine);
    const publicOne = { ...named, endpoint: PUBLIC_TON_ENDPOINTS.testnet[0]! };
    expect(chosenChain(publicOne, "s", { network: "testnet" }).endpoint).toBe(
      PUBLIC_TON_ENDPOINTS.testnet[0],
    );
    expect(() => chosenChain(publicOne, "s", { network: "mainnet" })).toThrow(NetworkMismatchError);
    expect(() => chosenChain(named, "s", { network: "testnet", tonEndpoint: "toncenter.com" })).toThrow(
      TonEndpointUrlError,
    );
  });
});
