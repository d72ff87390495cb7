import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wrtc from "@roamhq/wrtc";
import { Address } from "@ton/core";
import { TonClient } from "@ton/ton";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initGateway } from "../../client/gateway/gateway-init";
import { connect, type SilkClient } from "../../client/sdk/silk-client";
import type { Devnet } from "../../contracts/devnet";
import { RegistryCodeError } from "../../contracts/named-code";
import { DEVNET_MOUNT, devnetPageConfig } from "../../contracts/page-config";
import { registryEntryCheck, tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { loadOrCreateKey } from "../../peer/key-file";
import { encodePublicKey, equalBytes, flatPrice, NETWORK_ID } from "../../protocol";
import { startHeadlessProvider } from "../../provider/headless/headless-provider";
import { parseHeadlessOptions } from "../../provider/headless/options";
import { initProvider, stakeMore, withdrawStake } from "../../provider/headless/provider-init";
import { readProviderState } from "../../provider/headless/provider-state";
import type { ProviderRuntime } from "../../provider/runtime";
import type { ChainConfig } from "../../web/chain-config";
import { ownerWallet } from "../../web/owner-wallet";
import { startChainServer } from "../browser/chain-server";
import { type OpenAiBackend, startOpenAiBackend } from "../doubles/openai-backend";
import { cleanup, startServer } from "../signaling/helpers";

/**
 * `npm run provider -- init` and `stake add/withdraw` on a real devnet (the emulator behind
 * TonClient's API, as `npm start` runs it): the identity key registered with its payout and a
 * stake, read back the way requesters read it; then a provider started from what init stored is
 * chosen by a requester that demands that stake and checks the Registry itself.
 */
const TON = 1_000_000_000n;
let devnet: Devnet;
let url: string;
let dir: string;
let backend: OpenAiBackend;
let runtime: ProviderRuntime | undefined;
let client: SilkClient | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silk-provider-init-"));
  ({ url, devnet } = await startChainServer(dir));
  backend = await startOpenAiBackend();
}, 120_000);

afterAll(async () => {
  client?.close();
  runtime?.stop();
  await backend?.close();
  await cleanup();
  await devnet?.close();
});

describe("provider init on the devnet", () => {
  it("refuses a Registry of other code named by the server, before any wallet is asked for anything", async () => {
    const other = `0:${"ab".repeat(32)}`;
    const lying = await startServer({
      pageConfig: { ...devnetPageConfig(devnet.chain, 60), registry: other },
      mounts: [{ prefix: DEVNET_MOUNT, handle: devnet.handle }],
    });
    const lines: string[] = [];
    const err = await initProvider({
      signalingUrl: lying.url,
      keyFile: join(dir, "lied-to.key"),
      stateFile: join(dir, "lied-to.json"),
      walletFile: join(dir, "lied-to-wallet.seed"),
      model: "test-model",
      price: flatPrice(10n),
      say: (line) => lines.push(line),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryCodeError);
    expect((err as Error).message).toContain(Address.parse(other).toString());
    // Nothing was funded or sent: no wallet line, no registration.
    expect(lines.join("\n")).not.toMatch(/faucet|wallet|register/i);
  }, 60_000);

  it("registers the key with its payout and a stake, is served from what it stored, and leaves", async () => {
    const lines: string[] = [];
    const files = {
      keyFile: join(dir, "provider.key"),
      stateFile: join(dir, "provider.json"),
      walletFile: join(dir, "provider-wallet.seed"),
    };
    const state = await initProvider({
      signalingUrl: url,
      ...files,
      model: "init-model",
      price: flatPrice(5n),
      stake: 2n * TON,
      say: (l) => void lines.push(l),
    });
    const key = loadOrCreateKey(files.keyFile).key;
    expect(lines[0]).toContain(encodePublicKey(key.publicKey));
    expect(lines.join("\n")).toMatch(/payout .* owned by/);
    expect(readProviderState(files.stateFile)).toEqual(state);
    expect(state.payout).toBe(state.owner);

    // What a requester reads: this key, this payout, the stake, a registration time.
    const registry = tonRegistryReader(
      new TonClient({ endpoint: devnet.endpoint }),
      Address.parse(state.registry),
      {
        ttlMs: 0,
      },
    );
    const record = await registry.read(Address.parse(state.owner));
    expect(record && equalBytes(record.identityKey, key.publicKey)).toBe(true);
    expect(record?.payout.equals(Address.parse(state.payout))).toBe(true);
    expect(record?.stake).toBe(2n * TON);
    expect(record?.registeredAt).toBeGreaterThan(0);

    // Run again: nothing is sent, the same state comes back.
    const again: string[] = [];
    expect(
      await initProvider({
        signalingUrl: url,
        ...files,
        model: "init-model",
        price: flatPrice(5n),
        stake: 2n * TON,
        say: (l) => void again.push(l),
      }),
    ).toEqual(state);
    expect(again.some((l) => l.endsWith("…"))).toBe(false);

    // stake add: one more TON locked.
    expect(await stakeMore({ signalingUrl: url, ...files, say: () => undefined }, TON)).toBe(3n * TON);
    expect((await registry.read(Address.parse(state.owner)))?.stake).toBe(3n * TON);

    // What the signaling server filters on under `npm start` (signaling/entry-check.ts): the chain's.
    const check = registryEntryCheck(registry);
    const claim = { owner: state.owner, identityKey: encodePublicKey(key.publicKey), payout: state.payout };
    expect(await check(claim)).toMatchObject({ stake: 3n * TON });
    expect(await check({ ...claim, payout: `0:${"77".repeat(32)}` })).toBeUndefined();
    expect(await check({ ...claim, identityKey: "00".repeat(32) })).toBeUndefined();

    // `npm run provider` needs no --payout, --owner, --registry nor --ton-endpoint now.
    const options = parseHeadlessOptions(
      [
        "--backend",
        backend.url,
        "--backend-model",
        "backend-model",
        "--model",
        "init-model",
        "--price",
        "5",
        "--key-file",
        files.keyFile,
        "--receipts-file",
        join(dir, "receipts.log"),
      ],
      {},
      readProviderState(files.stateFile),
    );
    expect(options).toMatchObject({
      payout: state.payout,
      owner: state.owner,
      registry: state.registry,
      tonEndpoint: state.tonEndpoint,
      signalingUrl: url,
    });
    runtime = (await startHeadlessProvider({ ...options, minCloseDelay: 1 })).runtime;

    // A requester demanding 3 TON of stake, checking the Registry itself, is served by it.
    const gateway = await initGateway({
      signalingUrl: url,
      keyFile: join(dir, "gateway.key"),
      stateFile: join(dir, "gateway.json"),
      walletFile: join(dir, "gateway-wallet.seed"),
      deposit: 2n * TON,
      say: () => undefined,
    });
    client = await connect({
      signalingUrl: url,
      sessionKey: loadOrCreateKey(join(dir, "gateway.key")).key,
      maxPrice: { promptNanoPerToken: 5n, completionNanoPerToken: 5n },
      escrow: gateway.escrow,
      keyEpoch: gateway.keyEpoch,
      network: NETWORK_ID.devnet,
      wrtc,
      trust: { registry, policy: { minStake: 3n * TON } },
    });
    const done = await client.chat.completions.create({
      model: "init-model",
      messages: [{ role: "user", content: "staked" }],
    });
    expect(done.choices[0]?.message.content).toBe("Echo: staked");

    // stake withdraw: leaves the Registry at once; the stake unlocks only after the delay.
    const said: string[] = [];
    const left = await withdrawStake({ signalingUrl: url, ...files, say: (l) => void said.push(l) });
    expect(await registry.read(Address.parse(state.owner))).toBeUndefined();
    expect(left.stake).toBe(3n * TON);
    expect(left.unlockAt).toBeGreaterThan(Date.now() / 1000 + 13 * 86_400);
    expect(said.join("\n")).toMatch(/3 TON unlocks at 20\d\d-/);
  }, 180_000);
});

describe("on testnet and mainnet", () => {
  it("prints a ton:// link for the owner's wallet and waits until the chain shows it", async () => {
    const owner = `0:${"66".repeat(32)}`;
    const lines: string[] = [];
    const wallet = await ownerWallet({ network: "testnet" } as ChainConfig, {
      seed: { get: async () => undefined, set: async () => undefined },
      owner,
      timeoutMs: 10_000,
      pollMs: 20,
      say: (l) => void lines.push(l),
    });
    expect(wallet.owner.equals(Address.parse(owner))).toBe(true);
    let polls = 0;
    await wallet.send(
      { messages: [{ address: owner, amount: 70_000_000n, payload: "te6ccgEBAQEAAgAAAA==" }] },
      "register",
      async () => polls++ > 1,
    );
    expect(lines.find((l) => l.startsWith("ton://transfer/"))).toMatch(/\?amount=70000000&bin=/);
    expect(polls).toBeGreaterThan(2);
    await expect(
      ownerWallet({ network: "mainnet" } as ChainConfig, {
        seed: { get: async () => undefined, set: async () => undefined },
        say: () => undefined,
      }),
    ).rejects.toThrow(/--owner/);
  });
});
