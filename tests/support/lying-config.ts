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
