import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address, toNano } from "@ton/core";
import { afterEach, describe, expect, it } from "vitest";
import { checkProvider } from "../../client/sdk/provider-trust";
import { EscrowParams } from "../../contracts/generated/constants";
import type { RegistryReader } from "../../contracts/wrappers/registry-reader";
import { PolicyRefusedError } from "../../protocol/errors";
import { generateKeyPair } from "../../protocol/identity";
import { PayoutWorkchainError } from "../../protocol/payout";
import { NO_POLICY } from "../../protocol/trust-policy";
import { parseHeadlessOptions } from "../../provider/headless/options";
import { initProvider } from "../../provider/headless/provider-init";
import { payoutProblem } from "../../provider/page/payout-address";
import { ProviderRuntime, type ProviderRuntimeOptions } from "../../provider/runtime";
import { escrowFixture } from "../contracts/escrow-fixture";
import { call, cleanup, connect, signedRegistration, startServer } from "../signaling/helpers";

/**
 * A payout in the masterchain (workchain -1): the Escrow prices a claim's fees at basechain rates,
 * so a small claim to it is recorded as paid while its payout message cannot cover the
 * masterchain's forward fee, and nothing arrives. Every place a payout is taken refuses it by name.
 */
const MASTER = `-1:${"cd".repeat(32)}`;
const BASE = `0:${"cd".repeat(32)}`;
const BASECHAIN = /a payout must be a basechain \(workchain 0\) address/;

afterEach(cleanup);

describe("a payout address in the masterchain", () => {
  it("is paid nothing for a small claim the escrow records as paid", async () => {
    const f = await escrowFixture();
    const payout = Address.parse(MASTER);
    const amount = EscrowParams.MIN_CLAIM;
    await f.escrow.sendExternalClaim(f.receipt(amount, { payout }));
    expect(await f.escrow.getPaid(1, payout)).toBe(amount);
    expect(await f.balance(payout)).toBe(0n);
    // The same claim to the same account in the basechain arrives, less the fees.
    const base = Address.parse(BASE);
    await f.escrow.sendExternalClaim(f.receipt(amount, { payout: base }));
    expect(await f.balance(base)).toBeGreaterThan(toNano("0.005"));
  });

  it("is refused by the headless provider's flags and by npm run provider -- init, before any chain read", async () => {
    const argv = ["--backend", "http://127.0.0.1:1", "--model", "m", "--price", "1", `--payout=${MASTER}`];
    expect(() => parseHeadlessOptions(argv, {})).toThrow(BASECHAIN);
    // One an older init stored: named as such, with how to fix it (the user gave no --payout).
    const stored = {
      network: "devnet" as const,
      signalingUrl: "http://127.0.0.1:1",
      tonEndpoint: "http://127.0.0.1:1",
      registry: BASE,
      owner: BASE,
      payout: MASTER,
    };
    const fromState = () => parseHeadlessOptions(argv.slice(0, -1), {}, stored);
    expect(fromState).toThrow(BASECHAIN);
    expect(fromState).toThrow(/the payout init stored: .*run `npm run provider -- init --payout/);
    const dir = mkdtempSync(join(tmpdir(), "silk-mc-payout-"));
    await expect(
      initProvider({
        network: "devnet",
        tonEndpoint: "http://127.0.0.1:1/never-read",
        signalingUrl: "http://127.0.0.1:1",
        keyFile: join(dir, "key"),
        stateFile: join(dir, "state.json"),
        walletFile: join(dir, "wallet"),
        payout: MASTER,
        model: "m",
        price: { nanoPerToken: 1n, promptMultiplierBps: 10_000, completionMultiplierBps: 10_000 },
        say: () => {},
      }),
    ).rejects.toBeInstanceOf(PayoutWorkchainError);
  });

  it("is refused by the provider page's payout settings and by the provider runtime at start", async () => {
    expect(payoutProblem(MASTER)).toMatch(BASECHAIN);
    expect(payoutProblem(BASE)).toBeUndefined();
    const { url } = await startServer();
    await expect(
      ProviderRuntime.start({ payout: MASTER, signalingUrl: url } as unknown as ProviderRuntimeOptions),
    ).rejects.toBeInstanceOf(PayoutWorkchainError);
  });

  it("is refused by the signaling server's registration check, by name", async () => {
    const { url } = await startServer();
    const s = await connect(url);
    const identity = generateKeyPair();
    const { challenge } = await call<{ challenge: string }>(s, "provider:challenge", { v: 1 });
    const ack = await call(
      s,
      "provider:register",
      signedRegistration(identity, challenge, { payout: MASTER }),
    );
    expect(ack).toMatchObject({ ok: false, error: { code: "MALFORMED" } });
    expect(JSON.stringify(ack)).toMatch(BASECHAIN);
  });

  it("is refused by the requester's trust check before the Registry is read", async () => {
    let reads = 0;
    const registry: RegistryReader = {
      read: async () => {
        reads++;
        return undefined;
      },
    };
    const named = { identityKey: "ab".repeat(32), payout: MASTER, owner: BASE };
    const refused = await checkProvider(named, registry, NO_POLICY).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PolicyRefusedError);
    expect(refused).toMatchObject({ code: "POLICY_REFUSED", reason: "PAYOUT_WORKCHAIN" });
    expect((refused as Error).message).toMatch(BASECHAIN);
    expect(reads).toBe(0);
  });
});
