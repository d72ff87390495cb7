import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compiled } from "../../contracts/compile";
import { type Devnet, startDevnet } from "../../contracts/devnet";
import { ESCROW_CODE_HASH, PROVIDER_ENTRY_CODE_HASH } from "../../contracts/generated/code-hashes";
import { ContractCodeError } from "../../contracts/named-code";
import { devnetPageConfig } from "../../contracts/page-config";
import { flatPrice, type PageConfig } from "../../protocol";
import { initProvider } from "../../provider/headless/provider-init";
import { fetchChainConfig } from "../../web/chain-config";
import { cleanup } from "../signaling/helpers";
import { gatewayInit, lyingConfigServer } from "../support/lying-config";

/**
 * A lying signaling server (a real one on loopback, its devnet mounted as `npm start` does) whose
 * `/api/config` names Escrow or Registry entry code of its own: the code fixes the address a
 * deposit or a stake is sent to, so a look-alike (here the Registry's code, any code but ours)
 * would take the money. `gateway init` and `provider init` refuse it before any wallet is made or
 * funded; the pages read their config through the same `fetchChainConfig`. They used to go on to
 * the faucet and the deposit.
 */
let devnet: Devnet;
let dir: string;
let honest: PageConfig;
let otherCode: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "silk-named-code-"));
  devnet = await startDevnet({});
  honest = devnetPageConfig(devnet.chain, 60);
  otherCode = (await compiled("registry")).code.toBoc().toString("base64");
}, 120_000);

afterAll(async () => {
  await cleanup();
  await devnet?.close();
});

const lyingServer = (lie: Partial<PageConfig>) => lyingConfigServer(devnet, lie);

describe("Escrow and entry code named by the server's config", () => {
  it("another Escrow code: gateway init refuses it before any wallet is made or funded", async () => {
    const url = await lyingServer({ escrowCode: otherCode });
    const init = await gatewayInit(dir, url);
    expect(init.result).toBeInstanceOf(ContractCodeError);
    expect((init.result as ContractCodeError).expected).toBe(ESCROW_CODE_HASH);
    expect((init.result as Error).message).toContain(url);
    expect(init.said).not.toMatch(/faucet|wallet|deposit|escrow/i);
    expect(init.stored).toBe(false);
  }, 60_000);

  it("another entry code: provider init refuses it before any wallet is made or funded", async () => {
    const url = await lyingServer({ entryCode: otherCode });
    const said: string[] = [];
    const err = await initProvider({
      signalingUrl: url,
      keyFile: join(dir, "provider.key"),
      stateFile: join(dir, "provider.json"),
      walletFile: join(dir, "provider-wallet.seed"),
      model: "test-model",
      price: flatPrice(10n),
      stake: 1_000_000_000n,
      timeoutMs: 5_000,
      say: (line) => said.push(line),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractCodeError);
    expect((err as ContractCodeError).expected).toBe(PROVIDER_ENTRY_CODE_HASH);
    expect(said.join("\n")).not.toMatch(/faucet|wallet|register|stake/i);
  }, 60_000);

  it("code that is no BOC at all is refused as such; the honest config passes", async () => {
    await expect(fetchChainConfig(await lyingServer({ escrowCode: "AAAA" }))).rejects.toThrow(/not a BOC/);
    const chain = await fetchChainConfig(await lyingServer({}));
    expect(chain?.escrowCode).toBe(honest.escrowCode);
  });

  it("the generated hashes are those of the code compiled from source (run npm run contracts:build)", async () => {
    expect(ESCROW_CODE_HASH).toBe((await compiled("escrow")).codeHashHex);
    expect(PROVIDER_ENTRY_CODE_HASH).toBe((await compiled("providerEntry")).codeHashHex);
  });
});
