import { existsSync } from "node:fs";
import { join } from "node:path";
import { type InitOptions, initGateway } from "../../client/gateway/gateway-init";
import type { Devnet } from "../../contracts/devnet";
import { DEVNET_MOUNT, devnetPageConfig } from "../../contracts/page-config";
import type { PageConfig } from "../../protocol";
import { startServer } from "../signaling/helpers";

/**
 * A lying signaling server: a real one on loopback with `devnet` mounted as `npm start` mounts it,
 * whose `/api/config` is the honest devnet config with `lie` written over it. Its URL; the caller
 * runs `cleanup()` (tests/signaling/helpers.ts).
 */
export async function lyingConfigServer(devnet: Devnet, lie: Partial<PageConfig>): Promise<string> {
  const { url } = await startServer({
    pageConfig: { ...devnetPageConfig(devnet.chain, 60), ...lie },
    mounts: [{ prefix: DEVNET_MOUNT, handle: devnet.handle }],
  });
  return url;
}

let inits = 0;

/**
 * `gateway init` against `url` with files of its own under `dir` (a devnet deposit of 1 TON, 5 s
 * for the chain unless `more` says otherwise): what it returned or threw, what it said, and
 * whether it stored a state file.
 */
export async function gatewayInit(dir: string, url: string, more: Partial<InitOptions> = {}) {
  const said: string[] = [];
  const name = `init-${++inits}`;
  const stateFile = join(dir, `${name}.json`);
  const result = await initGateway({
    signalingUrl: url,
    keyFile: join(dir, `${name}.key`),
    stateFile,
    walletFile: join(dir, `${name}-wallet.seed`),
    deposit: 1_000_000_000n,
    timeoutMs: 5_000,
    say: (line) => said.push(line),
    ...more,
  }).catch((e: unknown) => e);
  return { result, said: said.join("\n"), stored: existsSync(stateFile) };
}
