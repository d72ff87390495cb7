import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../signaling/redis-server";

export interface TurnProcess {
  /** The `RTCIceServer` a signaling server names in its grants to send sessions through it. */
  iceServer: { urls: string[]; username: string; credential: string };
  stop(): Promise<void>;
}

const READY_MS = 10_000;

/**
 * A real, throwaway coturn `turnserver` on loopback: UDP only, one static long-term credential,
 * its database and pid file in a temp dir. Ready once it answers a STUN binding request.
 */
export async function startTurn(): Promise<TurnProcess> {
  const dir = mkdtempSync(join(tmpdir(), "silk-turn-"));
  const port = await freePort();
  const username = "silk";
  const credential = randomBytes(8).toString("hex");
  const child: ChildProcess = spawn(
    "turnserver",
    [
      "-n",
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--lt-cred-mech",
      `--user=${username}:${credential}`,
      "--realm=silk.test",
      // Both peers' relayed addresses are on loopback, which coturn refuses by default.
      "--allow-loopback-peers",
      "--no-cli",
      "--no-tls",
      "--no-dtls",
      "--no-tcp",
      `--userdb=${join(dir, "turndb")}`,
      `--pidfile=${join(dir, "turnserver.pid")}`,
      "--log-file=stdout",
      "--simple-log",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await answersStun(port, child);
  } catch (err) {
    await stop();
    throw new Error(`turnserver did not come up on 127.0.0.1:${port}: ${(err as Error).message}\n${out}`);
  }
  return { iceServer: { urls: [`turn:127.0.0.1:${port}?transport=udp`], username, credential }, stop };
}

/** Sends STUN binding requests (RFC 5389) every 200 ms until one is answered, within READY_MS. */
function answersStun(port: number, child: ChildProcess): Promise<void> {
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0); // binding request, no attributes
  request.writeUInt32BE(0x2112a442, 4); // magic cookie
  randomBytes(12).copy(request, 8);
  const socket = createSocket("udp4");
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: Error) => {
      clearInterval(ping);
      clearTimeout(deadline);
      child.off("exit", exited);
      socket.close();
      if (err) reject(err);
      else resolve();
    };
    const exited = (code: number | null) => finish(new Error(`turnserver exited with ${code}`));
    socket.on("message", (msg) => {
      if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101) finish();
    });
    const ping = setInterval(() => socket.send(request, port, "127.0.0.1"), 200);
    const deadline = setTimeout(() => finish(new Error(`no STUN answer in ${READY_MS} ms`)), READY_MS);
    child.once("exit", exited);
    socket.send(request, port, "127.0.0.1");
  });
}
