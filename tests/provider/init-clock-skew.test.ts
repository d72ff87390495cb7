import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Address } from "@ton/core";
import { afterAll, describe, expect, it } from "vitest";
import type { Devnet } from "../../contracts/devnet";
import { startDevnet } from "../../contracts/devnet/server";
import { tonRegistryReader } from "../../contracts/wrappers/registry-reader";
import { loadOrCreateKey } from "../../peer/key-file";
import { equalBytes, flatPrice } from "../../protocol";
import { initProvider } from "../../provider/headless/provider-init";
import { readProviderState } from "../../provider/headless/provider-state";
import { startChainServer } from "../browser/chain-server";
import { cleanup } from "../signaling/helpers";

/**
 * `npm run provider -- init` on a machine whose clock is off from the chain's (a real devnet, the
 * emulator behind TonClient's API, whose clock runs 2 h ahead of this machine's, or 2 h behind).
 * What it signs with a validity window (the wallet's transfer, the identity key's proof for the
 * Registry) is dated by the chain's clock, so the key is registered all the same. A clock 2 h
 * behind used to fail at once with the wallet's bare "exit code 136" (its message expired).
 */
let devnet: Devnet | undefined;
afterAll(async () => {
  await cleanup();
  await devnet?.close();
});

describe("provider init with this machine's clock off from the chain's", () => {
  it.each([
    ["2 h behind the chain", 7_200],
    ["2 h ahead of the chain", -7_200],
  ])(
    "%s: the key is registered",
    async (_name, chainAhead) => {
      await devnet?.close();
      devnet = await startDevnet({ clock: () => Math.floor(Date.now() / 1000) + chainAhead });
      const dir = mkdtempSync(join(tmpdir(), "silk-init-skew-"));
      const { url, client } = await startChainServer(dir, 5, { devnet });
      const files = {
        keyFile: join(dir, "p.key"),
        stateFile: join(dir, "p.json"),
        walletFile: join(dir, "w.seed"),
      };
      const state = await initProvider({
        signalingUrl: url,
        ...files,
        model: "skew-model",
        price: flatPrice(5n),
        timeoutMs: 20_000,
        say: () => undefined,
      });
      expect(readProviderState(files.stateFile)).toEqual(state);
      // What a requester reads: this key, registered.
      const record = await tonRegistryReader(client, Address.parse(state.registry), { ttlMs: 0 }).read(
        Address.parse(state.owner),
      );
      expect(record && equalBytes(record.identityKey, loadOrCreateKey(files.keyFile).key.publicKey)).toBe(
        true,
      );
    },
    90_000,
  );
});
