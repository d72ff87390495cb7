import { cleanup, startServer } from "../signaling/helpers";
import { type Mitm, type Stage, startMitm } from "./mitm-signaling";

const open: Mitm[] = [];

/** A real signaling server on a free port, with the man in the middle in front of it. */
export async function mitmNetwork(stages: Stage[] = []): Promise<Mitm> {
  const { url } = await startServer();
  const mitm = await startMitm(url, stages);
  open.push(mitm);
  return mitm;
}

/** Closes every proxy `mitmNetwork` started, then every server and socket (for afterEach). */
export async function closeMitmNetworks(): Promise<void> {
  for (const m of open.splice(0)) await m.close();
  await cleanup();
}
