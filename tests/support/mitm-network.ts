import { generateKeyPair } from "../../protocol";
import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, type Stage, startMitm } from "./mitm-signaling";

const open: Mitm[] = [];

/**
 * A real signaling server on a free port, with a proxy in front of it that holds the server's key:
 * what its stages write reaches requesters signed as the server's own word (the server lying).
 */
export async function mitmNetwork(stages: Stage[] = []): Promise<Mitm> {
  const serverSecretKey = generateKeyPair().secretKey;
  const { url } = await startServer({ serverKey: serverSecretKey });
  const mitm = await startMitm(url, stages, { serverSecretKey });
  open.push(mitm);
  return mitm;
}

/** Closes every proxy `mitmNetwork` started, then every server and socket (for afterEach). */
export async function closeMitmNetworks(): Promise<void> {
  for (const m of open.splice(0)) await m.close();
  await cleanup();
}
